//! Per-frame gating and guidance: is there exactly one face, in the oval, big enough, facing the
//! screen, lit and still? Produces one [`Prompt`] from a closed set with stable codes and
//! Chinese/English texts that tell the user what to do (never what they did wrong). The same
//! set carries the challenge instructions the session shows once the face is aligned.

use crate::frame::FrameRef;
use crate::vision::geometry::{Oval, OvalFit};
use crate::vision::{Face, FrameAnalysis};

/// What the user should do now. Codes are stable: hosts and tooling key on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum Prompt {
    /// No face is visible.
    NoFace,
    /// More than one face is visible.
    SeveralFaces,
    /// The face is too dark.
    TooDark,
    /// The face is over-exposed.
    TooBright,
    /// The face is too small in the oval.
    MoveCloser,
    /// The face overflows the oval.
    MoveBack,
    /// The face is off-centre.
    CentreFace,
    /// The head is turned or tilted away from the screen.
    FaceScreen,
    /// The face moves too fast to measure.
    HoldStill,
    /// All good.
    Ok,
    /// Action challenge: blink.
    Blink,
    /// Action challenge: nod.
    Nod,
    /// Action challenge: shake the head.
    Shake,
    /// Action challenge: open the mouth.
    OpenMouth,
    /// Digits challenge: read the digits shown aloud.
    ReadDigits,
    /// The attempt is over; the verdict is ready.
    Done,
}

impl Prompt {
    /// Every prompt: the quality checks in priority order (the first failing check wins), then
    /// the challenge instructions.
    pub const ALL: [Prompt; 16] = [
        Prompt::NoFace,
        Prompt::SeveralFaces,
        Prompt::TooDark,
        Prompt::TooBright,
        Prompt::MoveCloser,
        Prompt::MoveBack,
        Prompt::CentreFace,
        Prompt::FaceScreen,
        Prompt::HoldStill,
        Prompt::Ok,
        Prompt::Blink,
        Prompt::Nod,
        Prompt::Shake,
        Prompt::OpenMouth,
        Prompt::ReadDigits,
        Prompt::Done,
    ];

    /// The instruction that asks for an action.
    pub fn for_action(kind: crate::signals::ActionKind) -> Prompt {
        use crate::signals::ActionKind;
        match kind {
            ActionKind::Blink => Prompt::Blink,
            ActionKind::Nod => Prompt::Nod,
            ActionKind::Shake => Prompt::Shake,
            ActionKind::Mouth => Prompt::OpenMouth,
        }
    }

    /// Whether this prompt means a quality check failed (the user must adjust, not act).
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            Prompt::NoFace
                | Prompt::SeveralFaces
                | Prompt::TooDark
                | Prompt::TooBright
                | Prompt::MoveCloser
                | Prompt::MoveBack
                | Prompt::CentreFace
                | Prompt::FaceScreen
                | Prompt::HoldStill
        )
    }

    /// Stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Prompt::NoFace => "no_face",
            Prompt::SeveralFaces => "several_faces",
            Prompt::TooDark => "too_dark",
            Prompt::TooBright => "too_bright",
            Prompt::MoveCloser => "move_closer",
            Prompt::MoveBack => "move_back",
            Prompt::CentreFace => "centre_face",
            Prompt::FaceScreen => "face_screen",
            Prompt::HoldStill => "hold_still",
            Prompt::Ok => "ok",
            Prompt::Blink => "blink",
            Prompt::Nod => "nod",
            Prompt::Shake => "shake",
            Prompt::OpenMouth => "open_mouth",
            Prompt::ReadDigits => "read_digits",
            Prompt::Done => "done",
        }
    }

    /// Chinese text to show or speak.
    pub fn zh(self) -> &'static str {
        match self {
            Prompt::NoFace => "请把脸放进框内",
            Prompt::SeveralFaces => "请确保画面中只有一张脸",
            Prompt::TooDark => "光线太暗，请到明亮的地方",
            Prompt::TooBright => "光线太强，请避开强光",
            Prompt::MoveCloser => "请靠近一点",
            Prompt::MoveBack => "请离远一点",
            Prompt::CentreFace => "请把脸移到框的中间",
            Prompt::FaceScreen => "请正对屏幕",
            Prompt::HoldStill => "请保持不动",
            Prompt::Ok => "很好，请保持",
            Prompt::Blink => "请眨眨眼",
            Prompt::Nod => "请点点头",
            Prompt::Shake => "请摇摇头",
            Prompt::OpenMouth => "请张张嘴",
            Prompt::ReadDigits => "请大声读出屏幕上的数字",
            Prompt::Done => "认证完成",
        }
    }

    /// English text to show or speak.
    pub fn en(self) -> &'static str {
        match self {
            Prompt::NoFace => "Put your face in the oval",
            Prompt::SeveralFaces => "Make sure only one face is in view",
            Prompt::TooDark => "Too dark: move somewhere brighter",
            Prompt::TooBright => "Too bright: move away from strong light",
            Prompt::MoveCloser => "Move a little closer",
            Prompt::MoveBack => "Move a little further away",
            Prompt::CentreFace => "Move your face to the middle of the oval",
            Prompt::FaceScreen => "Look straight at the screen",
            Prompt::HoldStill => "Hold still",
            Prompt::Ok => "Good, hold it there",
            Prompt::Blink => "Please blink",
            Prompt::Nod => "Please nod your head",
            Prompt::Shake => "Please shake your head",
            Prompt::OpenMouth => "Please open your mouth",
            Prompt::ReadDigits => "Please read the numbers on the screen aloud",
            Prompt::Done => "Finished",
        }
    }
}

/// Thresholds of the quality checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityConfig {
    /// The on-screen oval.
    pub oval: Oval,
    /// Smallest face height over oval height.
    pub min_size: f32,
    /// Largest face height over oval height.
    pub max_size: f32,
    /// Largest face-centre offset from the oval centre, in oval radii.
    pub max_offset: f32,
    /// Largest |yaw| and |pitch| in degrees.
    pub max_angle: f32,
    /// Largest |roll| in degrees.
    pub max_roll: f32,
    /// Mean face luma (0..255) below which the face is too dark.
    pub min_luma: f32,
    /// Mean face luma above which the face is too bright.
    pub max_luma: f32,
    /// Largest nose speed in face heights per second.
    pub max_speed: f32,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            oval: Oval::default(),
            min_size: 0.4,
            max_size: 1.15,
            max_offset: 0.35,
            max_angle: 25.0,
            max_roll: 25.0,
            min_luma: 40.0,
            max_luma: 225.0,
            max_speed: 1.5,
        }
    }
}

/// The quality verdict on one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    /// What to tell the user.
    pub prompt: Prompt,
    /// Oval fit of the tracked face.
    pub fit: Option<OvalFit>,
    /// Mean luma of the face (0..255).
    pub luma: Option<f32>,
    /// Nose speed in face heights per second since the previous frame with a face.
    pub speed: Option<f32>,
}

/// Judges one analysed frame; `prev` is the previous frame's face and timestamp, if any.
pub fn assess(
    frame: &FrameRef,
    analysis: &FrameAnalysis,
    prev: Option<(&Face, i64)>,
    config: &QualityConfig,
) -> Quality {
    let Some(face) = &analysis.face else {
        return Quality {
            prompt: Prompt::NoFace,
            fit: None,
            luma: None,
            speed: None,
        };
    };
    let fit = config.oval.fit(&face.bbox, frame.display_size());
    let luma = frame.mean_luma(&face.mesh.roi_inner(), 12);
    let speed = prev.and_then(|(p, t)| {
        let dt = (analysis.t_ms - t) as f32 / 1000.0;
        if dt <= 0.0 || p.track_id != face.track_id {
            return None;
        }
        let (a, b) = (p.nose(), face.nose());
        let d = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
        Some(d / face.bbox.height().max(1.0) / dt)
    });
    let pose = face.pose;
    let prompt = if analysis.faces > 1 {
        Prompt::SeveralFaces
    } else if luma < config.min_luma {
        Prompt::TooDark
    } else if luma > config.max_luma {
        Prompt::TooBright
    } else if fit.size < config.min_size {
        Prompt::MoveCloser
    } else if fit.size > config.max_size {
        Prompt::MoveBack
    } else if fit.offset > config.max_offset {
        Prompt::CentreFace
    } else if pose.yaw.abs() > config.max_angle
        || pose.pitch.abs() > config.max_angle
        || pose.roll.abs() > config.max_roll
    {
        Prompt::FaceScreen
    } else if speed.is_some_and(|s| s > config.max_speed) {
        Prompt::HoldStill
    } else {
        Prompt::Ok
    };
    Quality {
        prompt,
        fit: Some(fit),
        luma: Some(luma),
        speed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_texts_present() {
        let codes: std::collections::HashSet<_> = Prompt::ALL.iter().map(|p| p.code()).collect();
        assert_eq!(codes.len(), Prompt::ALL.len());
        for p in Prompt::ALL {
            assert!(!p.zh().is_empty() && !p.en().is_empty());
        }
    }
}
