// Audio worklet of the live page: the microphone as 16-bit PCM in 32 ms messages (512 samples
// at the context's 16 kHz), posted to the page, which sends them over the WebSocket.
class Pcm16Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.buffer = new Int16Array(512);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      for (let i = 0; i < channel.length; i += 1) {
        const s = Math.max(-1, Math.min(1, channel[i]));
        this.buffer[this.filled] = s < 0 ? s * 0x8000 : s * 0x7fff;
        this.filled += 1;
        if (this.filled === this.buffer.length) {
          this.port.postMessage(this.buffer.buffer, [this.buffer.buffer]);
          this.buffer = new Int16Array(512);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);
