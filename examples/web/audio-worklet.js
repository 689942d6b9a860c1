// Microphone tap for the digits challenge: hands the page the mono samples in blocks of 4096
// (32 render quanta), each with the audio-clock time of its first sample.
class PcmTap extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(4096);
    this.filled = 0;
    this.startTime = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    if (this.filled === 0) this.startTime = currentTime;
    this.block.set(channel, this.filled);
    this.filled += channel.length;
    if (this.filled >= this.block.length) {
      this.port.postMessage({ pcm: this.block, time: this.startTime }, [this.block.buffer]);
      this.block = new Float32Array(4096);
      this.filled = 0;
    }
    return true;
  }
}

registerProcessor('pcm-tap', PcmTap);
