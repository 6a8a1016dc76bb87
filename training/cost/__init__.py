"""What the environment spends: the idle-endpoint reaper, the cost report and the instance recommendation."""
