// Command netspace runs the netspace stack and its tools.
//
//	netspace run [flags]           run the stack on a TAP device (or a packet socket)
//	netspace replay [flags] FILE   feed a pcap capture through a stack and print the trace
//	netspace demo [flags]          a small dataspace demo: actors, a demand matcher, a trace
//	netspace fetch [flags] URL     get a URL over a stack: DHCP, DNS, TCP, HTTP
//
// A bad flag or argument is a one-line error on stderr and exit status 2.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `usage: netspace <command> [flags]

commands:
  run      run the stack on a TAP device: netspace run --tap tap0 --addr 192.0.2.2/24 --gateway 192.0.2.1
  replay   feed a pcap capture through a stack and print the trace: netspace replay FILE.pcap
  demo     run a small dataspace demo (actors, a demand matcher, a trace)
  fetch    get an http:// URL through a stack on a TAP device (DHCP, DNS, TCP): netspace fetch http://www.test/
  help     show this help

Run 'netspace <command> -h' for a command's flags.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(args[1:], stdout, stderr)
	case "replay":
		err = cmdReplay(args[1:], stdout, stderr)
	case "demo":
		err = cmdDemo(args[1:], stdout, stderr)
	case "fetch":
		err = cmdFetch(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usageError{fmt.Errorf("unknown command %q (try 'netspace help')", args[0])}
	}
	return exitStatus(err, stderr)
}

// usageError marks errors in flags or arguments (exit status 2).
type usageError struct{ error }

func exitStatus(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "netspace: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "netspace: %v\n", err)
		return 1
	}
}

// parseFlags parses args with fs, turning every problem into a one-line
// usageError; -h prints the flags to stdout. No positional arguments.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	pos, err := parseFlagsArgs(fs, args, stdout)
	if err == nil && len(pos) > 0 {
		err = usageError{fmt.Errorf("%s: unexpected argument %q", fs.Name(), strings.Join(pos, " "))}
	}
	return err
}

// parseFlagsArgs is parseFlags for commands that take positional
// arguments, which it returns.
func parseFlagsArgs(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintf(stdout, "usage: netspace %s [flags]\n", fs.Name())
			fs.PrintDefaults()
			return nil, err
		}
		return nil, usageError{err}
	}
	return fs.Args(), nil
}
