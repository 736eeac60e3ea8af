"""
The benchmark: every candidate model measured on this machine, and the profile it writes.

command is the `benchmark` tool; it measures latency, accuracy and memory, draws the
speed/accuracy chart and writes the profile that the switcher plans from. profile is that
file's schema and loading; stats holds the maths (percentiles, fits, Pareto front, top-k
counting); operation_count counts a network's multiply-accumulates from its ONNX graph.
"""
