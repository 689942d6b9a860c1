// A minimal liveness screen: front camera preview, the prompt above it, CameraX ImageAnalysis
// feeding livecheck, the verdict at the end. The engine is created once per process from the
// models shipped as assets (LivenessEngine.fromBytes) on a background thread.
package cn.livecheck.sample

import android.Manifest
import android.content.pm.PackageManager
import android.os.Bundle
import android.util.Size
import android.widget.FrameLayout
import android.widget.TextView
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.Preview
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.core.resolutionselector.ResolutionStrategy
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import cn.livecheck.LivenessEngine
import cn.livecheck.SessionOptions
import cn.livecheck.core.DigitModelBytes
import cn.livecheck.core.Language
import cn.livecheck.seedFromNonce
import java.nio.ByteBuffer
import java.util.concurrent.Executors

class LivenessActivity : AppCompatActivity() {
    private val analysisExecutor = Executors.newSingleThreadExecutor()
    private lateinit var preview: PreviewView
    private lateinit var prompt: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        preview = PreviewView(this)
        prompt = TextView(this).apply { textSize = 28f }
        setContentView(FrameLayout(this).apply { addView(preview); addView(prompt) })
        if (checkSelfPermission(Manifest.permission.CAMERA) != PackageManager.PERMISSION_GRANTED) {
            requestPermissions(arrayOf(Manifest.permission.CAMERA, Manifest.permission.RECORD_AUDIO), 1)
        } else {
            start()
        }
    }

    override fun onRequestPermissionsResult(code: Int, perms: Array<out String>, results: IntArray) {
        super.onRequestPermissionsResult(code, perms, results)
        if (results.firstOrNull() == PackageManager.PERMISSION_GRANTED) start()
    }

    private fun assetBytes(name: String): ByteArray = assets.open("models/$name").use { it.readBytes() }

    private fun asset(name: String): ByteBuffer = direct(assetBytes(name))

    /** A direct copy positioned at 0 (uniffi's zero-copy `&[u8]` takes direct buffers). */
    private fun direct(bytes: ByteArray): ByteBuffer =
        ByteBuffer.allocateDirect(bytes.size).apply { put(bytes); flip() }

    private fun start() = analysisExecutor.execute {
        val engine = Engine.get(::asset, ::assetBytes)
        // The seed comes from the server's nonce, so the server knows which actions were asked.
        val nonce = intent.getByteArrayExtra("nonce") ?: ByteArray(16)
        val seed = seedFromNonce(direct(nonce))
        // intent extra "mode" = "digits": the digit-reading challenge (读数认证) instead of actions.
        val digits = intent.getStringExtra("mode") == "digits"
        val session = engine.newSession(
            SessionOptions(seed = seed, digitsLanguage = if (digits) Language.MANDARIN else null),
        )
        if (digits) {
            val mic = DigitsMicrophone(session) { e -> runOnUiThread { prompt.text = e.message } }
            if (checkSelfPermission(Manifest.permission.RECORD_AUDIO) == PackageManager.PERMISSION_GRANTED) {
                mic.start() // stop it when the verdict arrives
            }
            runOnUiThread { title = "请读出: ${session.digits()}" }
        }
        val analyzer = LivenessAnalyzer(
            session,
            onFeedback = { fb -> runOnUiThread { prompt.text = fb.promptZh } },
            onVerdict = { v ->
                runOnUiThread {
                    prompt.text = if (v.passed) "认证通过" else "未通过: ${v.reasonCodes.joinToString()}"
                }
                // Upload v.bestFrame?.jpeg with the nonce for the server's 1:1 match.
            },
            onError = { e -> runOnUiThread { prompt.text = e.message } },
        )
        runOnUiThread { bindCamera(analyzer) }
    }

    private fun bindCamera(analyzer: LivenessAnalyzer) {
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener({
            val provider = future.get()
            val previewUseCase = Preview.Builder().build().also {
                it.setSurfaceProvider(preview.surfaceProvider)
            }
            val analysis = ImageAnalysis.Builder()
                .setResolutionSelector(
                    ResolutionSelector.Builder().setResolutionStrategy(
                        ResolutionStrategy(Size(640, 480), ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER),
                    ).build(),
                )
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_YUV_420_888)
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .build()
                .also { it.setAnalyzer(analysisExecutor, analyzer) }
            provider.unbindAll()
            provider.bindToLifecycle(this, CameraSelector.DEFAULT_FRONT_CAMERA, previewUseCase, analysis)
        }, ContextCompat.getMainExecutor(this))
    }

    override fun onDestroy() {
        super.onDestroy()
        analysisExecutor.shutdown()
    }

    /** One engine per process: loading optimises every model, sessions are cheap. */
    private object Engine {
        @Volatile
        private var engine: LivenessEngine? = null

        fun get(asset: (String) -> ByteBuffer, bytes: (String) -> ByteArray): LivenessEngine =
            engine ?: synchronized(this) {
                engine ?: LivenessEngine.fromBytes(
                    asset("face_detection_short_range.onnx"),
                    asset("face_landmark.onnx"),
                    asset("iris_landmark.onnx"),
                    bytes("silero_vad_16k.onnx"), // the VAD and the digit models: digits challenge
                    DigitModelBytes(
                        bytes("whisper_encoder_base_6s.onnx"),
                        bytes("digits.onnx"),
                        bytes("whisper_decoder_base_digits.onnx"),
                    ),
                ).also { engine = it }
            }
    }
}
