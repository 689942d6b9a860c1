// CameraX → livecheck: each ImageAnalysis frame (YUV_420_888) becomes one NV21 push_frame with
// the frame's own rotation and sensor timestamp. Runs on the analysis executor's thread;
// LivenessSession is thread-safe, so the UI thread may call finish() or phase() meanwhile.
package cn.livecheck.sample

import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import cn.livecheck.Feedback
import cn.livecheck.LivenessException
import cn.livecheck.LivenessSession
import cn.livecheck.Verdict
import cn.livecheck.core.PixelFormat
import java.nio.ByteBuffer
import java.util.concurrent.TimeUnit

class LivenessAnalyzer(
    private val session: LivenessSession,
    private val onFeedback: (Feedback) -> Unit,
    private val onVerdict: (Verdict) -> Unit,
    private val onError: (LivenessException) -> Unit,
) : ImageAnalysis.Analyzer {
    /** One direct buffer reused for every frame (uniffi passes it to Rust without a copy). */
    private var nv21: ByteBuffer? = null

    @Volatile
    private var finished = false

    override fun analyze(image: ImageProxy) {
        image.use {
            if (finished) return
            val buffer = toNv21(image)
            try {
                val feedback = session.pushFrame(
                    buffer,
                    image.width.toUInt(),
                    image.height.toUInt(),
                    image.width.toUInt(), // packed NV21: row stride = width
                    PixelFormat.NV21,
                    image.imageInfo.rotationDegrees.toUInt(), // clockwise to upright
                    false, // raw sensor frames are not mirrored (only the preview is)
                    TimeUnit.NANOSECONDS.toMillis(image.imageInfo.timestamp),
                )
                onFeedback(feedback) // show feedback.promptZh, draw feedback.faceBox
                if (feedback.done) {
                    finished = true
                    onVerdict(session.finish())
                }
            } catch (e: LivenessException.TimestampNotIncreasing) {
                // A duplicated frame: skip it.
            } catch (e: LivenessException) {
                finished = true
                onError(e)
            }
        }
    }

    /**
     * Copies the YUV_420_888 planes into NV21 (Y rows, then interleaved V/U), honouring each
     * plane's row and pixel strides: devices differ (planar I420, semi-planar NV12/NV21
     * views, padded rows).
     */
    private fun toNv21(image: ImageProxy): ByteBuffer {
        val w = image.width
        val h = image.height
        val size = w * h * 3 / 2
        val out = nv21?.takeIf { it.capacity() == size }
            ?: ByteBuffer.allocateDirect(size).also { nv21 = it }
        out.clear()
        val (yPlane, uPlane, vPlane) = image.planes
        val y = yPlane.buffer.duplicate()
        for (row in 0 until h) {
            y.clear()
            y.position(row * yPlane.rowStride)
            y.limit(row * yPlane.rowStride + w)
            out.put(y)
        }
        val u = uPlane.buffer
        val v = vPlane.buffer
        for (row in 0 until h / 2) {
            for (col in 0 until w / 2) {
                out.put(v.get(row * vPlane.rowStride + col * vPlane.pixelStride))
                out.put(u.get(row * uPlane.rowStride + col * uPlane.pixelStride))
            }
        }
        out.flip() // position 0: the binding passes the buffer's address and remaining()
        return out
    }
}
