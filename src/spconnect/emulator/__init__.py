"""The built-in Amazon emulator: real HTTP servers on 127.0.0.1 that behave as Amazon's
LWA token endpoint does, with failure injection. ``python -m spconnect.emulator`` runs it
for people; tests start it in-process."""

from spconnect.emulator.server import Emulator
from spconnect.emulator.state import EmulatorState, Fault

__all__ = ["Emulator", "EmulatorState", "Fault"]
