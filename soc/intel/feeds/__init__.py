"""Feed readers: each turns what a feed publishes into :class:`soc.intel.model.Indicator` s."""
