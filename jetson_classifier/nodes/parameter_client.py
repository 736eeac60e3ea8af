"""
Read, list and set another node's parameters through its rcl_interfaces services.

rclpy.parameter_client (AsyncParameterClient) first shipped in Iron; Humble's rclpy has only
plain service clients, so the switcher, the demo and the tests share this small one.
"""

import time
from typing import Callable, Iterable, Optional

from rcl_interfaces.srv import GetParameters, ListParameters, SetParameters
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.task import Future

# A request unanswered this long is sent again: rmw_fastrtps drops a response when the server
# has not yet matched the client's response reader (ros2/rmw_fastrtps#842, "failed to send
# response (timeout)"), which a loaded 2-core machine makes likely after a node starts.
RESEND_AFTER_S = 5.0
SERVICES = {'get': GetParameters, 'set': SetParameters, 'list': ListParameters}


class ParameterClient:
    """Clients of the get, set and list parameter services of the node `remote`."""

    def __init__(self, node: Node, remote: str):
        """Serve `node`; a relative `remote` resolves in `node`'s namespace."""
        self._clients = {verb: node.create_client(kind, f'{remote}/{verb}_parameters')
                         for verb, kind in SERVICES.items()}

    def services_are_ready(self) -> bool:
        """Tell whether the remote node's parameter services are discovered."""
        return all(client.service_is_ready() for client in self._clients.values())

    def get_parameters(self, names: Iterable[str]) -> Future:
        """Ask for the values of `names`; the future holds a GetParameters response."""
        return self._call('get', names=list(names))

    def set_parameters(self, parameters: Iterable[Parameter]) -> Future:
        """Set rclpy `parameters` one by one; the future holds a SetParameters response."""
        return self._call('set', parameters=[p.to_parameter_msg() for p in parameters])

    def list_parameters(self) -> Future:
        """Ask for every parameter name; the future holds a ListParameters response."""
        return self._call('list')

    def _call(self, verb, **fields):
        return self._clients[verb].call_async(SERVICES[verb].Request(**fields))


def call(send: Callable[[], Future], spin_until: Callable[[Callable[[], bool], float], bool],
         timeout_s: float, resend_after_s: float = RESEND_AFTER_S) -> Optional[object]:
    """
    Return the response to the request `send()` sends, or None after `timeout_s`.

    `spin_until(condition, seconds)` spins the caller's executor. A request unanswered after
    `resend_after_s` is cancelled and sent again, so only idempotent ones belong here: reads,
    and sets of a value.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        future = send()
        left = deadline - time.monotonic()
        if spin_until(future.done, min(resend_after_s, left)):
            return future.result()
        future.cancel()  # rclpy forgets a cancelled request, so its late answer is dropped
        if left <= resend_after_s:
            return None
