"""Coefficient-sweep tables and plots, shared by ``e2mc-plugin demo --sweep`` (digits, CPU) and
``e2mc-plugin report RUN_DIR...`` (solo-learn runs at real scale). No host import."""
