"""
The classifier's ROS side, shared by the plain and the managed node.

classifier_serving subscribes to the cameras, runs the frame pipeline and publishes its
labels (camera_outputs); classifier_parameters declares the parameters and builds the model
they name; model_switches swaps models at runtime; classifier_status reports on /diagnostics.
"""
