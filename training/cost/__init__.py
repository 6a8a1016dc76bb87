"""What the environment spends while nobody uses it: the idle-endpoint reaper."""
