"""Pictures: learning curves, confusion matrices, forecasts (matplotlib, Agg backend), and the insight
tools: ``gradient_flow`` (‖∂L/∂h_t‖ through time), ``memory`` (long-term memory benchmark),
``recordings`` (hidden states, gates, PCA trajectories, saturation) and ``saliency`` (gradient × input,
occlusion). Each is imported on use, so ``import rnnlab`` never loads matplotlib."""
