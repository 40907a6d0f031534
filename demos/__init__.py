"""Demonstrations of autograd_lite: the lab reproduced (demos.lab1) and a small digits CNN."""
