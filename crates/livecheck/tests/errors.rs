//! Every error variant is reachable from bad input, and its message says what was wrong.

mod common;

use livecheck::models::{Model, Net};
use livecheck::{
    AnalyzerConfig, Error, FrameRef, ModelSet, Oval, PixelFormat, QualityConfig, Rotation,
};

#[test]
fn frame_layout_errors() {
    let buf = vec![0u8; 64];
    let e = FrameRef::packed(&buf, 0, 8, PixelFormat::Gray8).unwrap_err();
    assert!(
        matches!(
            e,
            Error::EmptyFrame {
                width: 0,
                height: 8
            }
        ),
        "{e}"
    );
    let e = FrameRef::packed(&buf, 7, 4, PixelFormat::I420).unwrap_err();
    assert!(
        matches!(e, Error::OddDimensions { .. }) && e.to_string().contains("even"),
        "{e}"
    );
    let e = FrameRef::new(&buf, 8, 2, 16, PixelFormat::Rgba8).unwrap_err();
    assert!(
        matches!(
            e,
            Error::StrideTooSmall {
                stride: 16,
                min: 32,
                ..
            }
        ),
        "{e}"
    );
    let e = FrameRef::packed(&buf, 8, 8, PixelFormat::Nv12).unwrap_err();
    assert!(
        matches!(
            e,
            Error::BufferTooSmall {
                expected: 96,
                actual: 64,
                ..
            }
        ),
        "{e}"
    );
    let e = FrameRef::packed(&buf, 1, 17_000, PixelFormat::Gray8).unwrap_err();
    assert!(matches!(e, Error::FrameTooLarge { .. }), "{e}");
    let e = Rotation::from_degrees(91).unwrap_err();
    assert!(
        matches!(e, Error::BadRotation(91)) && e.to_string().contains("91"),
        "{e}"
    );
}

#[test]
fn missing_models_name_the_file_and_the_fix() {
    let dir = std::env::temp_dir().join("livecheck-no-models-here");
    let e = ModelSet::from_dir(&dir).unwrap_err();
    assert!(matches!(e, Error::ModelMissing { .. }), "{e}");
    assert!(e.to_string().contains("cargo xtask models"), "{e}");
}

#[test]
fn garbage_and_misplaced_models_are_rejected() {
    // livecheck's runtime (face models) and tract (speech models) alike.
    let shapes: &[&[usize]] = &[&[1, 3, 128, 128]];
    let errors = [
        Net::load("detector", b"not an onnx file", shapes, &[896 * 16, 896]).unwrap_err(),
        Model::load("detector", b"not an onnx file", shapes, &[896 * 16, 896]).unwrap_err(),
    ];
    for e in errors {
        assert!(
            matches!(
                e,
                Error::BadModel {
                    name: "detector",
                    ..
                }
            ),
            "{e}"
        );
    }
    let Some(dir) = common::models_dir() else {
        return;
    };
    let models = ModelSet::from_dir(&dir).unwrap();
    // The iris model in the detector's place: wrong output shapes.
    let swapped = ModelSet {
        detector: models.iris.clone(),
        ..models
    };
    let e = livecheck::Engine::load(&swapped).unwrap_err();
    assert!(
        matches!(
            e,
            Error::BadModel {
                name: "detector",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn wrong_input_count_is_an_inference_error() {
    let Some(dir) = common::models_dir() else {
        return;
    };
    let bytes = std::fs::read(dir.join(livecheck::models::files::DETECTOR)).unwrap();
    let model = Net::load("detector", &bytes, &[&[1, 3, 128, 128]], &[896 * 16, 896]).unwrap();
    let e = model.run(&[]).unwrap_err();
    assert!(matches!(e, Error::Inference { .. }), "{e}");
    let short = vec![0.0f32; 10];
    let e = model.run(&[&short]).unwrap_err();
    assert!(matches!(e, Error::Inference { .. }), "{e}");
}

#[test]
fn analyzer_rejects_time_going_backwards_and_bad_ovals() {
    let Some(engine) = common::engine() else {
        return;
    };
    let rgb = vec![90u8; 64 * 48 * 3];
    let frame = FrameRef::packed(&rgb, 64, 48, PixelFormat::Rgb8).unwrap();
    let mut a = engine.analyzer(AnalyzerConfig::default());
    a.push_frame(&frame, 100).unwrap();
    let e = a.push_frame(&frame, 100).unwrap_err();
    assert!(
        matches!(
            e,
            Error::TimestampNotIncreasing {
                previous: 100,
                got: 100
            }
        ),
        "{e}"
    );
    assert!(
        a.push_frame(&frame, 133).is_ok(),
        "a rejected frame does not poison the analyzer"
    );

    let bad = QualityConfig {
        oval: Oval {
            height: -1.0,
            ..Oval::default()
        },
        ..QualityConfig::default()
    };
    let mut a = engine.analyzer(AnalyzerConfig {
        quality: bad,
        ..AnalyzerConfig::default()
    });
    let e = a.push_frame(&frame, 0).unwrap_err();
    assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
}
