"""Training reward heads on frozen features: the shared options (``config``), the
training units built from records (``units``), the one minibatch loop with early
stopping (``loop`` for batched heads and their losses, ``early_stopping`` for the
structured models' modules), L2 selection by cross-validation, regularizers, and
``fit.train_reward_model``, which goes from records to a saved-ready model."""
