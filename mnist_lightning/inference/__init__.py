"""Inference outside training: photo -> 28x28 MNIST input, ONNX export, and the draw-a-digit HTTP app."""
