"""mnist-lightning: a compact CNN trained on MNIST with PyTorch Lightning and Hydra."""
