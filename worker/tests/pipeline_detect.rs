//! MTCNN on the real test images against the reference's numbers
//! (`reference/README.md`, table "Measured on the project's test images"). The detector
//! gets the reference's pixels (JPEGs decoded by OpenCV), so these test the cascade
//! alone; end-to-end parity, decoder included, is `parity_reference.rs`.

mod pipeline_support;

use facefix_worker::pipeline::Engine;
use facefix_worker::pipeline::detect::{DetectorStats, Mtcnn, MtcnnStats};
use facefix_worker::pipeline::face::filter_faces;
use pipeline_support::{asym_engine, decode_rgb, reference_rgb};

/// The test engine's detector, which is MTCNN (the default).
fn mtcnn_stats(stats: DetectorStats) -> MtcnnStats {
    match stats {
        DetectorStats::Mtcnn(s) => s,
        other => panic!("MTCNN stats expected, got {other:?}"),
    }
}

fn mtcnn(engine: &Engine) -> &Mtcnn {
    engine
        .detector
        .as_mtcnn()
        .unwrap_or_else(|| panic!("the test engine's detector is MTCNN"))
}

struct Expected {
    image: &'static str,
    hits: &'static [usize],
    cascade: [usize; 3],
    boxes: &'static [[f64; 5]],
}

const EXPECTED: &[Expected] = &[
    Expected {
        image: "astronaut.png",
        hits: &[93, 73, 43, 31, 23, 16, 9, 1, 1, 0],
        cascade: [135, 7, 1],
        boxes: &[[179.80, 60.12, 268.09, 173.89, 0.999995]],
    },
    Expected {
        image: "grace_hopper.jpg",
        hits: &[150, 61, 47, 58, 38, 30, 18, 17, 8, 3],
        cascade: [188, 14, 1],
        boxes: &[[176.65, 118.01, 357.03, 337.52, 0.999870]],
    },
    Expected {
        image: "coffee.png",
        hits: &[131, 41, 31, 24, 21, 12, 1, 0, 0],
        cascade: [128, 1, 0],
        boxes: &[],
    },
    Expected {
        image: "collage_4faces.png",
        hits: &[251, 166, 146, 85, 64, 37, 20, 14, 7, 5],
        cascade: [363, 31, 4],
        boxes: &[
            [219.50, 100.75, 308.00, 213.08, 0.999993],
            [734.23, 145.18, 876.20, 316.72, 0.999867],
            [1182.27, 113.38, 1224.70, 167.12, 0.999784],
            [1436.49, 137.06, 1490.80, 204.66, 0.998947],
        ],
    },
];

#[test]
fn cascade_matches_the_reference_on_every_table_image() {
    let engine = asym_engine();
    for e in EXPECTED {
        let img = reference_rgb(e.image);
        let (faces, stats) = mtcnn(&engine).detect(&img).expect("detect");
        assert_eq!(
            stats.pnet_hits_per_scale, e.hits,
            "{}: PNet hits per scale",
            e.image
        );
        assert_eq!(
            [stats.after_pnet, stats.after_rnet, stats.after_onet],
            e.cascade,
            "{}: candidates after each stage",
            e.image
        );
        assert_eq!(faces.len(), e.boxes.len(), "{}: faces", e.image);
        for (f, want) in faces.iter().zip(e.boxes) {
            for k in 0..4 {
                assert!(
                    (f.bbox[k] - want[k]).abs() <= 0.006,
                    "{}: box {:?} vs {:?}",
                    e.image,
                    f.bbox,
                    want
                );
            }
            assert!(
                (f.score - want[4]).abs() <= 1e-6,
                "{}: score {} vs {}",
                e.image,
                f.score,
                want[4]
            );
        }
    }
}

#[test]
fn astronaut_landmarks_within_one_pixel_of_testdata_readme() {
    // testdata/README.md (reference/README.md gives the same to 0.01 px)
    const LANDMARKS: [[f64; 2]; 5] = [
        [203.86, 101.30],
        [246.39, 103.18],
        [224.27, 128.90],
        [201.82, 139.77],
        [244.91, 141.99],
    ];
    let (faces, _) = mtcnn(&asym_engine())
        .detect(&decode_rgb("astronaut.png"))
        .expect("detect");
    assert_eq!(faces.len(), 1);
    for (got, want) in faces[0].landmarks.iter().zip(LANDMARKS) {
        let d = (got[0] - want[0]).hypot(got[1] - want[1]);
        assert!(d < 1.0, "landmark {got:?} vs {want:?}");
        assert!(
            d < 0.01,
            "landmark {got:?} vs {want:?}: parity should be exact"
        );
    }
}

#[test]
fn face_counts_after_the_filter() {
    let engine = asym_engine();
    for (name, want) in [
        ("astronaut.png", 1),
        ("grace_hopper.jpg", 1),
        ("coffee.png", 0),
        ("collage_4faces.png", 4),
    ] {
        let img = decode_rgb(name);
        let (faces, _) = mtcnn(&engine).detect(&img).expect("detect");
        let kept = filter_faces(faces, img.width(), img.height(), false);
        assert_eq!(kept.len(), want, "{name}");
    }
}

#[test]
fn only_center_face_keeps_hopper_in_the_collage() {
    let img = decode_rgb("collage_4faces.png");
    let (faces, _) = mtcnn(&asym_engine()).detect(&img).expect("detect");
    let kept = filter_faces(faces, img.width(), img.height(), true);
    assert_eq!(kept.len(), 1);
    assert!(
        (kept[0].bbox[0] - 734.23).abs() < 0.01,
        "{:?}",
        kept[0].bbox
    );
}

#[test]
fn exif_orientation_is_applied_before_detection() {
    // Our decoder turns it upright too (the pixels differ from libjpeg's by a few LSB).
    assert_eq!(
        decode_rgb("../bad/exif_orientation6_gps.jpg").dimensions(),
        (384, 512)
    );
    let img = reference_rgb("../bad/exif_orientation6_gps.jpg");
    assert_eq!(img.dimensions(), (384, 512), "upright");
    let (faces, stats) = mtcnn(&asym_engine()).detect(&img).expect("detect");
    assert_eq!(stats.pnet_hits_per_scale, [73, 56, 47, 28, 15, 11, 3, 0, 0]);
    assert_eq!(faces.len(), 1);
    let b = faces[0].bbox;
    let want = [115.64, 59.15, 204.54, 172.83];
    for k in 0..4 {
        assert!((b[k] - want[k]).abs() <= 0.006, "{b:?}");
    }
}

#[test]
fn tiled_pnet_gives_the_same_detections() {
    use facefix_worker::pipeline::detect::mtcnn::TileSize;
    let engine = asym_engine();
    let tiled = mtcnn(&engine).clone().with_tile_size(TileSize {
        width: 64,
        height: 38,
        above_pixels: 0,
    });
    for name in [
        "astronaut.png",
        "collage_4faces.png",
        "grace_hopper.jpg",
        "tiny_face_64x75.png",
    ] {
        let img = decode_rgb(name);
        let whole = mtcnn(&engine).detect(&img).expect("detect");
        let tiles = tiled.detect(&img).expect("detect tiled");
        assert_eq!(whole.0, tiles.0, "{name}: faces");
        assert_eq!(
            whole.1.pnet_hits_per_scale, tiles.1.pnet_hits_per_scale,
            "{name}"
        );
        assert_eq!(
            [whole.1.after_pnet, whole.1.after_rnet, whole.1.after_onet],
            [tiles.1.after_pnet, tiles.1.after_rnet, tiles.1.after_onet],
            "{name}"
        );
    }
}

#[test]
fn working_resolution_off_or_above_the_photo_is_full_resolution_exactly() {
    let engine = asym_engine();
    let img = decode_rgb("collage_4faces.png");
    let (full, full_stats) = mtcnn(&engine).detect(&img).expect("detect");
    for max_side in [0, img.width().max(img.height()), 4096] {
        let (got, stats) = engine.detect_faces(&img, max_side).expect("detect");
        let stats = mtcnn_stats(stats);
        assert_eq!(got, full, "max side {max_side}");
        // The counts match; the stage times are wall clock and do not.
        assert_eq!(
            stats.pnet_hits_per_scale, full_stats.pnet_hits_per_scale,
            "max side {max_side}"
        );
        assert_eq!(
            [stats.after_pnet, stats.after_rnet, stats.after_onet],
            [
                full_stats.after_pnet,
                full_stats.after_rnet,
                full_stats.after_onet
            ],
            "max side {max_side}"
        );
        assert!(stats.working_resolution.is_none());
    }
}

/// The 33 MP photo: detection on a 1600 px copy finds the full-resolution faces, and the
/// full-resolution ONet refinement puts their landmarks within 2 px of the cascade's at
/// full resolution (the copy alone is a ~4.8 px grid).
#[test]
fn working_resolution_finds_the_same_faces_on_the_large_photo() {
    const MAX_LANDMARK_PX: f64 = 2.0;
    let engine = asym_engine();
    let img = decode_rgb("large_7680x4320.jpg");
    let (full, _) = engine.detector.detect(&img).expect("detect");
    assert!(!full.is_empty(), "the photo has a face");
    let (found, stats) = engine.detect_faces(&img, 1600).expect("detect");
    let working = mtcnn_stats(stats)
        .working_resolution
        .expect("ran on a copy");
    assert_eq!((working.width, working.height), (1600, 900));
    assert_eq!(working.refined, found.len(), "every face refined");
    assert_eq!(found.len(), full.len(), "faces: {found:?} vs {full:?}");
    for (f, g) in full.iter().zip(&found) {
        for (p, q) in f.landmarks.iter().zip(&g.landmarks) {
            let d = (p[0] - q[0]).hypot(p[1] - q[1]);
            assert!(d <= MAX_LANDMARK_PX, "landmark {q:?} vs {p:?}: {d:.2} px");
        }
    }
}
