package main

import (
	"flag"

	"netspace"

	"go.uber.org/zap"
)

// feature is an optional part of `netspace run`, in a file of its own:
// it adds flags, may adjust the stack's configuration before the stack
// starts, and starts its actors once the stack is up. Features register
// themselves from init.
type feature struct {
	name string
	// flags registers the feature's flags on run's flag set.
	flags func(fs *flag.FlagSet)
	// configure adjusts the configuration before the stack starts (after
	// the common flags are parsed); it returns a usage error for bad
	// flags.
	configure func(cfg *netspace.Config) error
	// start runs once the stack is up; the returned func (may be nil)
	// runs before the stack closes.
	start func(st *netspace.Stack, log *zap.Logger) (stop func(), err error)
}

var features []*feature

//lint:ignore U1000 called from the init of each feature's file
func registerFeature(f *feature) { features = append(features, f) }
