"""facefix's Python reference face pipeline: the parity oracle and speed baseline of
the Rust worker. Modules, in pipeline order: decode (+ exif), mtcnn (+ boxes), align,
restore, paste, encode; pipeline ties them together and cli is the command line."""
