"""
Command-line tools: prepare_models, finetune, build_engine, the demo and `jetson-classifier`.

Each module has a main(argv) that setup.py installs as a console script and as an
executable `ros2 run` finds.
"""
