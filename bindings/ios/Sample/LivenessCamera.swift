// AVFoundation → livecheck: every AVCaptureVideoDataOutput frame (32BGRA CVPixelBuffer) goes to
// LivenessSession.pushFrame in place (no copy: the Data wraps the locked base address), with the
// rotation that makes the buffer upright and the frame's presentation time.
//
// Compile-ready against the generated bindings (bindings/swift/generated) in the `Livecheck`
// module of LivecheckKit; not compiled in CI (no Xcode there).
import AVFoundation
import UIKit
import Livecheck

final class LivenessCamera: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate {
    /// One engine per process: loading optimises every model; sessions are cheap.
    static let engine: LivenessEngine = {
        let dir = Bundle.main.resourceURL!.appendingPathComponent("models").path
        return try! LivenessEngine.fromDir(modelsDir: dir)
    }()

    let captureSession = AVCaptureSession()
    private let queue = DispatchQueue(label: "livecheck.frames")
    private let session: LivenessSession
    private var finished = false
    /// Called on the frame queue with each frame's feedback (show `promptZh`).
    var onFeedback: ((Feedback) -> Void)?
    /// Called once with the verdict (upload `bestFrame?.jpeg` with the nonce).
    var onVerdict: ((Verdict) -> Void)?
    var onError: ((Error) -> Void)?

    init(nonce: Data) throws {
        let seed = try seedFromNonce(nonce: nonce)
        session = try Self.engine.newSession(options: SessionOptions(seed: seed))
        super.init()
        captureSession.sessionPreset = .vga640x480
        guard let camera = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: .front) else {
            throw LivenessError.InvalidConfig(message: "no front camera")
        }
        captureSession.addInput(try AVCaptureDeviceInput(device: camera))
        let output = AVCaptureVideoDataOutput()
        output.videoSettings = [kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_32BGRA]
        output.alwaysDiscardsLateVideoFrames = true
        output.setSampleBufferDelegate(self, queue: queue)
        captureSession.addOutput(output)
    }

    /// The actions to show, in order.
    func challenge() throws -> [ActionKind] { try session.challenge() }

    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer,
                       from connection: AVCaptureConnection) {
        guard !finished, let pixels = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        let ms = Int64(CMTimeGetSeconds(CMSampleBufferGetPresentationTimeStamp(sampleBuffer)) * 1000)
        CVPixelBufferLockBaseAddress(pixels, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(pixels, .readOnly) }
        guard let base = CVPixelBufferGetBaseAddress(pixels) else { return }
        let width = CVPixelBufferGetWidth(pixels)
        let height = CVPixelBufferGetHeight(pixels)
        let stride = CVPixelBufferGetBytesPerRow(pixels)
        // Borrow the camera's memory for the duration of the call: no copy, no free.
        let bytes = Data(bytesNoCopy: base, count: stride * height, deallocator: .none)
        do {
            let feedback = try session.pushFrame(
                bytes: bytes, width: UInt32(width), height: UInt32(height),
                rowStride: UInt32(stride), format: .bgra8,
                rotationDegrees: Self.rotationDegrees(), mirrored: false, timestampMs: ms)
            onFeedback?(feedback)
            if feedback.done {
                finished = true
                onVerdict?(try session.finish())
            }
        } catch LivenessError.TimestampNotIncreasing {
            // A repeated frame: skip it.
        } catch {
            finished = true
            onError?(error)
        }
    }

    /// Clockwise rotation that makes the front camera's landscape buffer upright for the
    /// current device orientation (the sensor's native orientation is landscape-right).
    static func rotationDegrees() -> UInt32 {
        switch UIDevice.current.orientation {
        case .portraitUpsideDown: return 270
        case .landscapeLeft: return 180
        case .landscapeRight: return 0
        default: return 90 // portrait
        }
    }
}
