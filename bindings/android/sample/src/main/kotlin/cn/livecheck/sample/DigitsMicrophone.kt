// The microphone side of the digits challenge (读数认证): AudioRecord 16-bit mono PCM pushed
// into the same LivenessSession that the camera feeds, on its own thread, each chunk stamped on
// the camera's clock (CameraX image timestamps are CLOCK_BOOTTIME on most devices, so the chunk
// times come from AudioTimestamp.TIMEBASE_BOOTTIME).
package cn.livecheck.sample

import android.Manifest
import android.media.AudioFormat
import android.media.AudioRecord
import android.media.AudioTimestamp
import android.media.MediaRecorder
import android.os.SystemClock
import androidx.annotation.RequiresPermission
import cn.livecheck.LivenessSession
import java.util.concurrent.TimeUnit
import kotlin.concurrent.thread

class DigitsMicrophone(
    private val session: LivenessSession,
    private val onError: (Throwable) -> Unit,
) {
    private val rate = 16_000
    @Volatile private var running = false
    private var worker: Thread? = null

    @RequiresPermission(Manifest.permission.RECORD_AUDIO)
    fun start() {
        val minBuffer = AudioRecord.getMinBufferSize(
            rate, AudioFormat.CHANNEL_IN_MONO, AudioFormat.ENCODING_PCM_16BIT,
        )
        val record = AudioRecord(
            MediaRecorder.AudioSource.VOICE_RECOGNITION, rate,
            AudioFormat.CHANNEL_IN_MONO, AudioFormat.ENCODING_PCM_16BIT, maxOf(minBuffer, rate / 5 * 2),
        )
        running = true
        worker = thread(name = "livecheck-mic") {
            val chunk = ShortArray(rate / 50) // 20 ms
            val stamp = AudioTimestamp()
            var framesRead = 0L
            try {
                record.startRecording()
                while (running) {
                    val n = record.read(chunk, 0, chunk.size)
                    if (n <= 0) continue
                    // Time of this chunk's first sample on the boot clock, from the last
                    // position the audio HAL stamped (fallback: now minus the chunk length).
                    val startMs = if (record.getTimestamp(stamp, AudioTimestamp.TIMEBASE_BOOTTIME) ==
                        AudioRecord.SUCCESS
                    ) {
                        TimeUnit.NANOSECONDS.toMillis(stamp.nanoTime) +
                            (framesRead - stamp.framePosition) * 1000 / rate
                    } else {
                        SystemClock.elapsedRealtime() - n * 1000L / rate
                    }
                    session.pushAudioI16(chunk.copyOf(n).toList(), rate.toUInt(), startMs)
                    framesRead += n
                }
            } catch (e: Throwable) {
                onError(e)
            } finally {
                record.stop()
                record.release()
            }
        }
    }

    fun stop() {
        running = false
        worker?.join()
    }
}
