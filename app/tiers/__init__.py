"""The tiers below and beside the center: station chiefs' queues (二级派单), workstations' self-handled cases
(微循环) and outside evaluators' reviews of closed cases."""
