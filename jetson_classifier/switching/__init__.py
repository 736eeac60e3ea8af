"""
Which model to run to hold an fps or accuracy target: pure logic, no ROS.

ladder builds the rungs from a benchmark profile and plans the one to start on (the
benchmark uses it to say which model it would choose); policy follows the measured fps from
there. The switcher node feeds the policy its measurements and acts on its decisions.
"""
