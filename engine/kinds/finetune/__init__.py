"""The fine-tuning kind: which way of adapting a pretrained model gives the most gain per cost,
and what does it forget?

This package holds the kind's algorithm library, which needs no study file, plan or store:

* ``methods/``   one file per method, registered in ``methods.METHODS``;
* ``layout``     where a model's head and blocks are, per architecture (``wrapping``: copies of
  classifiers, the plain model under a PEFT wrapper);
* ``head``       fitting the head to the target's classes, and the checks on the base and source;
* ``targets``    PEFT target modules per architecture (a visible default the user can change);
* ``features``   pre-head features computed once and cached (linear probing); ``batches``: dataset
  rows as model inputs;
* ``training``   the one training loop every method uses (``errors``: what it raises);
* ``memory``     peak memory of a run; ``params``: trainable-parameter counts;
* ``tune``       a base + a target + a method -> a tuned model, its curves and costs;
* ``export``     tuned models as safetensors, Hugging Face folders or PEFT adapter folders.
"""
