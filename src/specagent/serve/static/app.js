// The live page of `specagent serve`: one WebSocket conversation, drawn from the server's
// typed messages (docs/serve.md). No build step, no dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { ws: null, turn: 0, finalT: null, calls: new Map(), speaking: false };

function connect() {
  const params = new URLSearchParams(location.search);
  const query = new URLSearchParams();
  if (params.get("token")) query.set("token", params.get("token"));
  const resume = params.get("conversation") || sessionStorage.getItem("specagent.conversation");
  if (resume) query.set("conversation", resume);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws?${query}`);
  state.ws = ws;
  ws.onmessage = (e) => receive(JSON.parse(e.data));
  ws.onclose = (e) => {
    setStatus("closed", `closed (${e.code}${e.reason ? ": " + e.reason : ""})`);
    if (e.reason && e.reason.startsWith("conversation")) {
      sessionStorage.removeItem("specagent.conversation");  // unknown or busy: start afresh
    }
  };
  ws.onerror = () => setStatus("error", "connection error");
}

function setStatus(kind, text) {
  const el = $("status");
  el.dataset.state = kind;
  el.textContent = text;
}

function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}

// -- what the user says ---------------------------------------------------------------------

function speak(atOnce) {
  const words = $("text").value.trim().split(/\s+/).filter(Boolean);
  if (!words.length || state.speaking) return;
  if (atOnce) {
    send({ type: "speech", text: words.join(" "), final: true });
    return;
  }
  const gap = Math.max(0, Number($("gap").value) || 0);
  state.speaking = true;
  let i = 0;
  const next = () => {
    const final = i === words.length - 1;
    send({ type: "speech", text: words[i], final });
    i += 1;
    if (final) state.speaking = false;
    else setTimeout(next, gap);
  };
  next();
}

$("speak").addEventListener("click", () => speak(false));
$("send").addEventListener("click", () => speak(true));
$("text").addEventListener("keydown", (e) => { if (e.key === "Enter") speak(false); });
$("interrupt").addEventListener("click", () => send({ type: "interrupt", reason: "barge-in" }));
$("policy").addEventListener("change", (e) => send({ type: "policy", policy: e.target.value }));

// -- the microphone (when the server hears audio) ---------------------------------------------

const mic = { context: null, stream: null };

async function startMic() {
  mic.stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
  });
  mic.context = new AudioContext({ sampleRate: 16000 });
  await mic.context.audioWorklet.addModule("/static/mic-worklet.js");
  const source = mic.context.createMediaStreamSource(mic.stream);
  const capture = new AudioWorkletNode(mic.context, "pcm16-capture");
  capture.port.onmessage = (e) => {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(e.data);
  };
  const mute = mic.context.createGain();
  mute.gain.value = 0;  // pulled by the output, heard by nobody
  source.connect(capture).connect(mute).connect(mic.context.destination);
  $("mic").dataset.on = "true";
  $("mic").textContent = "Stop microphone";
  line(null, "control", "microphone on");
}

async function stopMic() {
  if (mic.stream) mic.stream.getTracks().forEach((t) => t.stop());
  if (mic.context) await mic.context.close();
  mic.stream = mic.context = null;
  send({ type: "audio_end" });
  $("mic").dataset.on = "false";
  $("mic").textContent = "Microphone";
  line(null, "control", "microphone off");
}

if ($("mic")) {
  $("mic").addEventListener("click", () => {
    const action = $("mic").dataset.on === "true" ? stopMic() : startMic();
    action.catch((err) => line(null, "error", `microphone: ${err.message}`));
  });
}

// -- what the server says -------------------------------------------------------------------

function line(t, lane, text) {
  const li = document.createElement("li");
  li.className = `lane-${lane}`;
  li.dataset.lane = lane;
  for (const [cls, value] of [["t", t == null ? "" : `${t.toFixed(2)}s`], ["lane", lane], ["text", text]]) {
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = value;
    li.appendChild(span);
  }
  $("timeline").appendChild(li);
  li.scrollIntoView({ block: "nearest" });
}

function newTurn(turn) {
  if (turn === state.turn) return;
  state.turn = turn;
  state.finalT = null;
  $("heard").textContent = "";
  $("writing").textContent = "";
  $("answer").textContent = "";
  $("latency").textContent = "";
}

function callRow(id) {
  let row = state.calls.get(id);
  if (!row) {
    row = document.createElement("tr");
    row.dataset.callId = id;
    row.innerHTML = '<td class="id"></td><td class="args"></td><td class="effect"></td>' +
      '<td><span class="state"></span><span class="badges"></span></td><td class="history"></td>';
    row.querySelector(".id").textContent = id;
    $("calls").querySelector("tbody").appendChild(row);
    state.calls.set(id, row);
  }
  return row;
}

function setCall(m, callState, note) {
  const row = callRow(m.call_id);
  row.dataset.state = callState;
  row.querySelector(".state").textContent = callState;
  const history = row.querySelector(".history");
  history.textContent += `${history.textContent ? " → " : ""}${callState} ${m.t.toFixed(2)}s`;
  if (note) badge(row, note);
  line(m.t, "tool", `#${m.call_id} ${callState}${note ? " (" + note + ")" : ""}`);
}

function badge(row, text) {
  const b = document.createElement("span");
  b.className = "badge";
  b.textContent = text;
  row.querySelector(".badges").appendChild(b);
}

const handlers = {
  ready(m) {
    $("conversation-id").textContent = m.conversation_id;
    sessionStorage.setItem("specagent.conversation", m.conversation_id);
    $("policy").value = m.policy;
    setStatus("open", m.resumed ? `resumed after ${m.turns} turns` : "connected");
    state.turn = m.turns;
  },
  policy_set(m) { line(null, "control", `policy for the next turn: ${m.policy}`); },
  error(m) { line(null, "error", `${m.code}: ${m.message}`); },
  user_speech(m) {
    newTurn(m.turn);
    const span = document.createElement("span");
    span.className = m.final ? "word final" : "word";
    span.textContent = m.text + " ";
    $("heard").appendChild(span);
    if (m.final) state.finalT = m.t;
    line(m.t, "user", (m.final ? "[final] " : "") + m.text);
  },
  model_delta(m) { newTurn(m.turn); $("writing").textContent += m.text; },
  model_output(m) {
    $("writing").textContent += m.interrupted ? "  ⟂\n" : "\n";
    line(m.t, "model", `${m.text}${m.interrupted ? " (interrupted)" : ""}  [${m.tokens} tok]`);
  },
  tool_call_issued(m) {
    const row = callRow(m.call_id);
    row.querySelector(".args").textContent = `${m.name}(${JSON.stringify(m.arguments)})`;
    row.querySelector(".effect").textContent = m.effect || "?";
    setCall(m, "issued");
  },
  tool_call_revised(m) {
    callRow(m.call_id).querySelector(".args").textContent = `${m.name}(${JSON.stringify(m.arguments)})`;
    setCall(m, "revised");
  },
  tool_call_removed(m) { setCall(m, "removed"); },
  tool_call_held(m) { setCall(m, "held", "held for its commit point"); },
  tool_call_started(m) {
    // "early": before the user finished speaking; "uncommitted": before its commit point
    const note = state.finalT === null ? "early" : m.early ? "uncommitted" : "";
    setCall(m, "running", [m.sandboxed ? "sandbox" : "", note].filter(Boolean).join(", "));
  },
  tool_call_finished(m) { setCall(m, "done"); },
  tool_call_failed(m) { setCall(m, "failed", m.error_type); },
  tool_call_committed(m) { setCall(m, "committed"); },
  tool_call_cancelled(m) { setCall(m, "cancelled", m.reason); },
  tool_call_compensated(m) { setCall(m, "compensated", "undone"); },
  confirmation_asked(m) { $("answer").textContent = m.question; line(m.t, "answer", `asks: ${m.question}`); },
  answer_started(m) { $("answer").textContent = ""; line(m.t, "answer", "first answer token"); },
  answer_delta(m) { $("answer").textContent += m.text; },
  answer_completed(m) { $("answer").textContent = m.text; line(m.t, "answer", m.text); },
  answer_suppressed(m) { line(m.t, "answer", `answer held back: ${m.reason}`); },
  protocol_error(m) { line(m.t, "error", m.message); },
  interrupt(m) { line(m.t, "control", `interrupt: ${m.reason}`); },
  session_ended(m) { line(m.t, "control", `turn ${m.turn} ended: ${m.reason}`); },
  voice_started(m) { line(m.t, "user", "(speaking…)"); },
  voice_ended(m) { line(m.t, "user", "(stopped speaking)"); },
  answer(m) {
    const latency = m.latency_s == null ? "no answer" : `latency ${m.latency_s.toFixed(2)} s`;
    $("latency").textContent = `(${latency}, ${m.policy})`;
    $("latency").dataset.turn = m.turn;
    line(m.t, "answer", `turn ${m.turn}: ${latency}`);
  },
};

function receive(m) {
  const handle = handlers[m.type];
  if (handle) handle(m);
}

connect();
