//! Whole action sessions on real clips and real models: a live blink passes, a photo held up
//! as video fails, a face swapped mid-session fails continuity, time must move forward.

mod common;

use common::{crop, owned, timeline};
use livecheck::{ActionKind, Error, OwnedFrame, Reason, SessionConfig, Verdict};

fn run(config: SessionConfig, frames: Vec<OwnedFrame>) -> Verdict {
    let engine = common::engine().expect("models checked by the caller");
    engine
        .session(config)
        .expect("valid config")
        .run(frames.into_iter().map(Ok::<_, String>))
        .expect("session runs")
}

#[test]
fn a_photo_held_up_as_video_fails() {
    let (Some(_), Some(mut img)) = (common::engine(), common::frames("skimage/astronaut.png"))
    else {
        return;
    };
    // The photo held close to the camera: the face fills the oval and aligns.
    let img = crop(&img.remove(0), 150, 30, 150, 200);
    // 25 s at 30 fps of the same picture: longer than both actions' timeouts.
    let frames = (0..750).map(|i| owned(img.clone(), i * 33)).collect();
    let v = run(SessionConfig::action(), frames);
    assert!(!v.passed, "{v:?}");
    assert!(
        v.reasons.contains(&Reason::ActionTimeout),
        "{:?}",
        v.reasons
    );
    assert!(v.actions.iter().all(|a| !a.passed && a.event.is_none()));
    // The same bytes in every frame: a frozen feed too.
    assert!(
        v.reasons.contains(&Reason::RepeatedFrames),
        "{:?}",
        v.reasons
    );
    // The photo did align (a face in the oval), so the best frame exists.
    assert!(v.best_frame.is_some());
}

#[test]
fn a_live_blink_on_a_real_clip_passes() {
    let (Some(_), Some(frames)) = (
        common::engine(),
        common::frames("focus_blink/h264/mahie_test_1.mp4"),
    ) else {
        return;
    };
    let v = run(
        SessionConfig::action().with_actions(&[ActionKind::Blink]),
        timeline(frames, 0),
    );
    assert!(v.passed, "{v:?}");
    let event = v.actions[0].event.expect("the blink event");
    assert!(
        event.end_ms > event.start_ms && event.confidence > 0.3,
        "{event:?}"
    );
    let best = v.best_frame.expect("a best frame");
    assert!(best.jpeg.starts_with(&[0xFF, 0xD8]) && best.width > 0);
}

#[test]
fn a_different_face_spliced_in_fails_continuity() {
    let (Some(_), Some(a), Some(b)) = (
        common::engine(),
        common::frames("focus_blink/h264/mahie_test_1.mp4"),
        common::frames("pyfeat/h264/single_face.mp4"),
    ) else {
        return;
    };
    // 4 s of one person (aligned, then asked to nod, which she does not), then another
    // person's clip continuing the same timeline.
    // Same frame size for both (640x360): only the person changes at the cut, and the two
    // faces sit at nearly the same place in the frame, so the track itself does not jump.
    let a = a
        .into_iter()
        .take_while(|f| f.t_ms < 4000)
        .map(|f| crop(&f, 0, 60, 640, 360));
    let mut frames = timeline(a, 0);
    let offset = frames.last().map_or(0, |f| f.t_ms) + 33;
    frames.extend(timeline(b, offset));
    let config = SessionConfig::action().with_actions(&[ActionKind::Nod, ActionKind::Shake]);
    let v = run(config, frames);
    assert!(!v.passed);
    assert!(v.reasons.contains(&Reason::FaceChanged), "{:?}", v.reasons);
}

#[test]
fn a_clip_without_a_face_never_aligns() {
    let (Some(_), Some(frames)) = (common::engine(), common::frames("pyfeat/h264/no_face.mp4"))
    else {
        return;
    };
    let v = run(SessionConfig::action(), timeline(frames, 0));
    assert!(!v.passed);
    assert_eq!(v.reasons, vec![Reason::NotAligned]);
    assert!(v.best_frame.is_none());
}

#[test]
fn time_going_backwards_is_a_typed_error() {
    let (Some(engine), Some(mut img)) = (common::engine(), common::frames("skimage/astronaut.png"))
    else {
        return;
    };
    let img = img.remove(0);
    let mut s = engine.session(SessionConfig::action()).unwrap();
    let f = owned(img, 0);
    s.push_frame(&f.view().unwrap(), 100).unwrap();
    match s.push_frame(&f.view().unwrap(), 100) {
        Err(Error::TimestampNotIncreasing {
            previous: 100,
            got: 100,
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_verdict_carries_signed_evidence_of_what_was_fed() {
    use livecheck::evidence::{self, Scheme, VerifyKey};
    let (Some(_), Some(frames)) = (
        common::engine(),
        common::frames("focus_blink/h264/mahie_test_1.mp4"),
    ) else {
        return;
    };
    let nonce = b"server nonce 0001";
    let key = [42u8; 32];
    let config = SessionConfig::action()
        .with_actions(&[ActionKind::Blink])
        .with_evidence(nonce, Scheme::Ed25519, &key);
    let v = run(config.clone(), timeline(frames.clone(), 0));
    let signed = v.evidence.clone().expect("evidence was asked for");
    let public = VerifyKey::from_secret(Scheme::Ed25519, &key).unwrap();
    let e = evidence::verify(&signed, &public, nonce).unwrap();
    assert_eq!(e.plan, "actions:blink");
    assert_eq!((e.passed, e.frames), (v.passed, v.frames as u64));
    assert_eq!(e.reasons.len(), v.reasons.len());
    assert_eq!(e.last_ms.unwrap() - e.first_ms.unwrap(), v.duration_ms);
    assert!(e.best_frame_sha256.is_some() && e.audio_chunks == 0);
    // Each action's event and the models that judged it are in the record.
    let event = v.actions[0].event.expect("the blink was seen");
    let a = &e.actions[0];
    assert_eq!((a.action.as_str(), a.passed), ("blink", true));
    assert_eq!(
        (a.start_ms, a.end_ms),
        (Some(event.start_ms), Some(event.end_ms))
    );
    assert_eq!(a.asked_ms, v.actions[0].asked_ms);
    assert_eq!(e.models, *common::engine().unwrap().model_sha256());
    assert!(e.models.contains_key(livecheck::models::files::MESH) && e.reading.is_none());
    // The same clip gives the same record; a replay under another nonce does not verify.
    let again = run(config, timeline(frames.clone(), 0));
    assert_eq!(again.evidence.as_ref().unwrap().payload, signed.payload);
    assert!(evidence::verify(&signed, &public, b"server nonce 0002").is_err());
    // One pixel changed in one frame changes the frames' digest.
    let mut altered = frames.clone();
    altered[5].data[0] ^= 1;
    let other = run(
        SessionConfig::action()
            .with_actions(&[ActionKind::Blink])
            .with_evidence(nonce, Scheme::Ed25519, &key),
        timeline(altered, 0),
    );
    let other = evidence::verify(other.evidence.as_ref().unwrap(), &public, nonce).unwrap();
    assert_ne!(other.frames_sha256, e.frames_sha256);
    // A short key is a typed error when the session starts.
    let engine = common::engine().unwrap();
    let bad = SessionConfig::action().with_evidence(nonce, Scheme::HmacSha256, &[1; 8]);
    assert!(matches!(engine.session(bad), Err(Error::InvalidConfig(_))));
}
