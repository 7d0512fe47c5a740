package client

// KillForTest stops c's transport at once, without a goodbye: what the
// stack sees when the program is killed.
func KillForTest(c *Conn) { c.node.Stop() }
