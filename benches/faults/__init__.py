"""The fault suite of facefix (run it with benches/faults.sh): every accepted photo is
restored, and everything is destroyed after the retention, under one fault per scenario."""
