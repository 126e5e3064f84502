"""Clock-based training: synthetic asynchronous traces and fine-tuning of a small local model.

Small models do not speak the asynchronous protocol out of the box. This package teaches them:

* :mod:`.tasks` and :mod:`.assistant_tasks` say what to practise on (train splits only);
* :mod:`.teacher` is a scripted expert that acts on what it has heard so far;
* :mod:`.synth` plays each task through the real :class:`~specagent.agent.session.Session` on a
  virtual clock with the teacher as the model, so every trace is what the runtime would show;
* :mod:`.validate` replays each trace through the protocol parser and a fresh tool executor;
* :mod:`.sft` fine-tunes with TRL + PEFT LoRA (optional heavy stack), :mod:`.export` writes the
  adapter, merged weights and GGUF files, :mod:`.evaluate` measures the model in the runtime.

Only :mod:`.sft`, :mod:`.export` and parts of :mod:`.evaluate` need the optional training stack
(torch, transformers, peft, trl, datasets); synthesis needs nothing beyond the core.
"""
