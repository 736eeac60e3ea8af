"""What the nodes declare the same way: parameter descriptors and the QoS of latched topics."""

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

# Late subscribers (an operator's `ros2 topic echo`) get the last message of these topics.
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
# ... and the switcher's last ten decisions.
DECISION_HISTORY = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                              durability=DurabilityPolicy.TRANSIENT_LOCAL)


def descriptor(description, constraints='', read_only=False, integers=None, floats=None):
    """Return a ParameterDescriptor; `integers` or `floats` is an inclusive (low, high) range."""
    ranges = {}
    if integers is not None:
        ranges['integer_range'] = [IntegerRange(from_value=integers[0], to_value=integers[1],
                                                step=1)]
    if floats is not None:
        ranges['floating_point_range'] = [FloatingPointRange(from_value=floats[0],
                                                             to_value=floats[1])]
    return ParameterDescriptor(description=description, additional_constraints=constraints,
                               read_only=read_only, **ranges)
