// JVM test of the generated Kotlin bindings against the real cdylib (through JNA), the real
// models and real media. Run by `cargo xtask bindings --test`:
//
//   kotlinc bindings/kotlin/generated/**/*.kt bindings/kotlin/test/LivecheckTest.kt \
//       -cp /usr/share/java/jna.jar -include-runtime -d target/uniffi/kotlin-test.jar
//   LIVECHECK_MODELS=models LIVECHECK_DATA=../shared/data java \
//       -Djna.library.path=target/debug -cp target/uniffi/kotlin-test.jar:/usr/share/java/jna.jar \
//       cn.livecheck.test.LivecheckTestKt
//
// It proves the glue: a whole session on real frames, typed exceptions, the panic guard, one
// engine shared by sessions on several threads. Missing models or media fail under CI=true and
// skip otherwise.
package cn.livecheck.test

import cn.livecheck.LivenessEngine
import cn.livecheck.LivenessException
import cn.livecheck.Phase
import cn.livecheck.SessionOptions
import cn.livecheck.seedFromNonce
import cn.livecheck.selfTestPanic
import cn.livecheck.core.ActionKind
import cn.livecheck.core.Language
import cn.livecheck.core.PixelFormat
import cn.livecheck.core.Prompt
import cn.livecheck.core.Reason
import java.io.File
import java.nio.ByteBuffer
import kotlin.concurrent.thread
import kotlin.system.exitProcess

private val models = File(System.getenv("LIVECHECK_MODELS") ?: "models")
private val data = File(System.getenv("LIVECHECK_DATA") ?: "../shared/data")
private val inCi = System.getenv("CI")?.lowercase() in setOf("1", "true", "yes")

private var failures = 0

private fun check(ok: Boolean, what: () -> String) {
    if (!ok) throw AssertionError(what())
}

private inline fun <reified E : Throwable> expectThrows(block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("expected ${E::class.simpleName}, got $e", e)
    }
    throw AssertionError("expected ${E::class.simpleName}, nothing thrown")
}

private fun test(name: String, body: () -> Unit) {
    try {
        body()
        println("ok    $name")
    } catch (e: Throwable) {
        failures++
        println("FAIL  $name: $e")
        e.printStackTrace()
    }
}

/**
 * A photo held up to the camera: the astronaut's face cropped and scaled by ffmpeg to fill the
 * oval of a 360x480 portrait frame, as raw `pixFmt` bytes in a direct ByteBuffer (the zero-copy
 * `&[u8]` of uniffi takes direct buffers, like CameraX's image planes).
 */
private fun heldUpPhoto(file: File, pixFmt: String, bytesPerFrame: Int): ByteBuffer {
    val ffmpeg = ProcessBuilder(
        "ffmpeg", "-v", "error", "-i", file.path, "-vf", "crop=180:240:135:1,scale=360:480",
        "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", pixFmt, "-",
    ).start()
    val bytes = ffmpeg.inputStream.readBytes()
    check(ffmpeg.waitFor() == 0 && bytes.size == bytesPerFrame) { "ffmpeg failed on $file" }
    return bytes.direct()
}

/** What ffmpeg writes to stdout for `file` with the output options `args`. */
private fun ffmpeg(file: File, vararg args: String): ByteArray {
    val p = ProcessBuilder(listOf("ffmpeg", "-v", "error", "-i", file.path) + args + "-").start()
    val bytes = p.inputStream.readBytes()
    check(p.waitFor() == 0 && bytes.isNotEmpty()) { "ffmpeg failed on $file" }
    return bytes
}

/** The bytes in a direct ByteBuffer, positioned at 0. */
private fun ByteArray.direct(): ByteBuffer = ByteBuffer.allocateDirect(size).put(this).flip()

fun main() {
    val photo = File(data, "skimage/astronaut.png")
    val missing = listOf(File(models, "face_landmark.onnx"), photo).filterNot { it.exists() }
    if (missing.isNotEmpty()) {
        val msg = "models or media missing: $missing (cargo xtask models; ../shared/data)"
        if (inCi) {
            System.err.println("FAIL  $msg")
            exitProcess(1)
        }
        println("SKIP  $msg")
        return
    }
    val t0 = System.nanoTime()
    val engine = LivenessEngine.fromDir(models.path)
    println("engine loaded in ${(System.nanoTime() - t0) / 1_000_000} ms")
    val (w, h) = 360 to 480
    val rgb = heldUpPhoto(photo, "rgb24", w * h * 3)
    val nv21 = heldUpPhoto(photo, "nv21", w * h * 3 / 2)

    test("a still photo held up for 13 s (NV21 frames) times out on the blink") {
        val session = engine.newSession(SessionOptions(actions = listOf(ActionKind.BLINK)))
        check(session.challenge() == listOf(ActionKind.BLINK)) { "challenge ${session.challenge()}" }
        var aligned = false
        var done = false
        for (i in 0 until 400) {
            val fb = session.pushFrame(
                nv21, w.toUInt(), h.toUInt(), w.toUInt(), PixelFormat.NV21, 0u, false, i * 33L,
            )
            check(fb.promptZh.isNotEmpty() && fb.promptCode == fb.prompt.name.lowercase()) {
                "prompt ${fb.prompt} / ${fb.promptCode}"
            }
            aligned = aligned || fb.phase is Phase.Action
            if (fb.done) {
                done = true
                break
            }
        }
        check(aligned && done) { "aligned=$aligned done=$done" }
        val v = session.finish()
        check(!v.passed) { "a photo passed: $v" }
        // The same bytes pushed again and again are also a frozen feed.
        check(v.reasons == listOf(Reason.ACTION_TIMEOUT, Reason.REPEATED_FRAMES)) { "reasons ${v.reasons}" }
        check(v.reasonCodes == listOf("action_timeout", "repeated_frames")) { "codes ${v.reasonCodes}" }
        val best = v.bestFrame ?: throw AssertionError("no best frame")
        check(best.jpeg[0] == 0xFF.toByte() && best.jpeg[1] == 0xD8.toByte()) { "not a JPEG" }
    }

    test("bad buffers are typed exceptions") {
        val s = engine.newSession(SessionOptions())
        val small = expectThrows<LivenessException.InvalidFrame> {
            s.pushFrame(ByteArray(100).direct(), 640u, 480u, 0u, PixelFormat.RGB8, 0u, false, 0L)
        }
        check(small.message!!.contains("921600")) { "message ${small.message}" }
        expectThrows<LivenessException.InvalidFrame> {
            s.pushFrame(ByteArray(641 * 481 * 2).direct(), 641u, 481u, 641u, PixelFormat.NV21, 0u, false, 0L)
        }
        expectThrows<LivenessException.InvalidFrame> {
            s.pushFrame(rgb, w.toUInt(), h.toUInt(), 0u, PixelFormat.RGB8, 45u, false, 0L)
        }
        s.pushFrame(rgb, w.toUInt(), h.toUInt(), 0u, PixelFormat.RGB8, 0u, false, 10L)
        expectThrows<LivenessException.TimestampNotIncreasing> {
            s.pushFrame(rgb, w.toUInt(), h.toUInt(), 0u, PixelFormat.RGB8, 0u, false, 10L)
        }
    }

    test("a session finishes once") {
        val s = engine.newSession(SessionOptions())
        check(s.finish().reasons == listOf(Reason.NOT_ALIGNED)) { "verdict" }
        check(s.isFinished() && s.phase() == Phase.Done) { "state" }
        expectThrows<LivenessException.SessionFinished> { s.finish() }
    }

    test("a registered photo is matched 1:1 (the held-up astronaut against her photo and Obama's)") {
        val obama = File(data, "face_recognition/obama.jpg")
        for ((reference, matched) in listOf(photo to true, obama to false)) {
            val s = engine.newSession(
                SessionOptions(
                    actions = listOf(ActionKind.BLINK), actionTimeoutMs = 1000L,
                    referencePhoto = reference.readBytes(),
                ),
            )
            for (i in 0 until 60) {
                if (s.pushFrame(rgb, w.toUInt(), h.toUInt(), 0u, PixelFormat.RGB8, 0u, false, i * 33L).done) break
            }
            val v = s.finish()
            val m = v.faceMatch ?: throw AssertionError("no face match")
            check(m.matched == matched) { "match $m for ${reference.name}" }
            check(v.reasonCodes.contains("not_the_person") == !matched) { "codes ${v.reasonCodes}" }
        }
        expectThrows<LivenessException.InvalidPhoto> {
            engine.newSession(SessionOptions(referencePhoto = "not a photo".toByteArray()))
        }
    }

    test("config and model errors") {
        expectThrows<LivenessException.InvalidConfig> {
            engine.newSession(SessionOptions(actionTimeoutMs = 0L))
        }
        expectThrows<LivenessException.Model> { LivenessEngine.fromDir("/nonexistent") }
    }

    test("a panic inside livecheck becomes LivenessException.Internal") {
        val e = expectThrows<LivenessException.Internal> { selfTestPanic("probe from kotlin") }
        check(e.message!!.contains("probe from kotlin")) { "message ${e.message}" }
    }

    test("one engine, sessions on four threads") {
        val errors = java.util.Collections.synchronizedList(mutableListOf<Throwable>())
        val frames = java.util.concurrent.atomic.AtomicLong()
        (0 until 4).map { k ->
            thread {
                try {
                    val s = engine.newSession(SessionOptions(seed = k.toULong()))
                    for (i in 0 until 15) {
                        s.pushFrame(rgb, w.toUInt(), h.toUInt(), 0u, PixelFormat.RGB8, 0u, false, i * 33L)
                    }
                    frames.addAndGet(s.finish().frames.toLong())
                } catch (e: Throwable) {
                    errors.add(e)
                }
            }
        }.forEach { it.join() }
        check(errors.isEmpty()) { "errors $errors" }
        check(frames.get() == 60L) { "frames ${frames.get()}" }
    }

    test("the challenge follows the server nonce") {
        val seed = seedFromNonce("nonce-1".toByteArray().direct())
        val a = engine.newSession(SessionOptions(seed = seed)).challenge()
        val b = engine.newSession(SessionOptions(seed = seed)).challenge()
        check(a == b && a.toSet() == setOf(ActionKind.BLINK, ActionKind.NOD)) { "$a $b" }
    }

    test("digits: a real reader passes with camera and microphone on two threads") {
        // GRID 'bin red by k seven now', cropped so that the face sits in the oval.
        val clip = File(data, "grid_lipnet/orig/brbk7n.mpg")
        val (cw, ch) = 220 to 240
        val video = ffmpeg(clip, "-vf", "crop=$cw:$ch:62:48", "-f", "rawvideo", "-pix_fmt", "rgb24")
        val pcm = ffmpeg(clip, "-vn", "-ac", "1", "-ar", "16000", "-f", "s16le")
        val samples = java.nio.ByteBuffer.wrap(pcm).order(java.nio.ByteOrder.LITTLE_ENDIAN)
            .asShortBuffer().let { b -> ShortArray(b.remaining()).also { b.get(it) } }
        val s = engine.newSession(SessionOptions(digitsLanguage = Language.ENGLISH, expectedDigits = "7"))
        check(s.digits() == "7" && s.challenge().isEmpty()) { "challenge ${s.digits()}" }
        val errors = java.util.Collections.synchronizedList(mutableListOf<Throwable>())
        val mic = thread {
            try {
                for (start in samples.indices step 320) {
                    val chunk = samples.copyOfRange(start, minOf(start + 320, samples.size))
                    s.pushAudioI16(chunk.toList(), 16000u, start / 16L)
                }
            } catch (e: Throwable) {
                errors.add(e)
            }
        }
        val camera = thread {
            try {
                val n = cw * ch * 3
                for (i in 0 until video.size / n) {
                    val frame = video.copyOfRange(i * n, (i + 1) * n).direct()
                    s.pushFrame(frame, cw.toUInt(), ch.toUInt(), 0u, PixelFormat.RGB8, 0u, false, i * 40L)
                }
            } catch (e: Throwable) {
                errors.add(e)
            }
        }
        mic.join()
        camera.join()
        check(errors.isEmpty()) { "errors $errors" }
        val v = s.finish()
        val r = v.reading ?: throw AssertionError("no reading: $v")
        // The head hears the 7 (a carrier word may add a digit); the verification decides.
        check(v.passed && r.recognised.contains('7') && r.sync.inSync) { "verdict $v" }
    }

    if (failures > 0) {
        println("$failures Kotlin binding test(s) failed")
        exitProcess(1)
    }
    println("all Kotlin binding tests passed")
}
