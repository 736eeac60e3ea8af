"""
Which model to run to hold an fps or accuracy target: pure logic, no ROS.

The switcher node feeds this its measurements and acts on its decisions; the benchmark uses
it to say which model it would choose.
"""
