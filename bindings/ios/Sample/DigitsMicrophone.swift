// The microphone side of the digits challenge (读数认证): an AVAudioEngine input tap pushes
// float PCM into the same LivenessSession the camera feeds. Chunk times are on the host clock,
// the clock AVCaptureSession stamps video frames with, so audio and frames line up.
//
// Compile-ready against the generated bindings (bindings/swift/generated); not compiled in CI.
import AVFoundation
import Livecheck

final class DigitsMicrophone {
    private let engine = AVAudioEngine()
    private let session: LivenessSession
    var onError: ((Error) -> Void)?

    init(session: LivenessSession) { self.session = session }

    func start() throws {
        let audioSession = AVAudioSession.sharedInstance()
        try audioSession.setCategory(.playAndRecord, mode: .measurement, options: [.defaultToSpeaker])
        try audioSession.setActive(true)
        let input = engine.inputNode
        let format = input.outputFormat(forBus: 0) // device rate; livecheck resamples
        input.installTap(onBus: 0, bufferSize: 1024, format: format) { [weak self] buffer, when in
            guard let self, let channel = buffer.floatChannelData?[0] else { return }
            let samples = Array(UnsafeBufferPointer(start: channel, count: Int(buffer.frameLength)))
            let ms = Int64(AVAudioTime.seconds(forHostTime: when.hostTime) * 1000)
            do {
                try self.session.pushAudio(
                    pcm: samples, sampleRate: UInt32(format.sampleRate), timestampMs: ms)
            } catch {
                self.onError?(error)
            }
        }
        try engine.start()
    }

    func stop() {
        engine.inputNode.removeTap(onBus: 0)
        engine.stop()
    }
}
