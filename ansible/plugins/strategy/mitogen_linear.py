"""Mitogen's linear strategy, from the `mitogen` package in the venv: ANSIBLE_STRATEGY=mitogen_linear
(or `make deploy STRATEGY=mitogen_linear`). One Python interpreter per host for the whole run instead
of one per task; the plays are the same. ansible.cfg names this directory in strategy_plugins."""

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule  # noqa: F401
