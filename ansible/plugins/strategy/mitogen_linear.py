"""Mitogen's linear strategy (the `mitogen` package in the venv): ANSIBLE_STRATEGY=mitogen_linear.

ansible.cfg names this directory in strategy_plugins, so no path into the venv is written anywhere;
the plays are the same under either strategy."""

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule  # noqa: F401
