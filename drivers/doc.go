// Package drivers is netspace's link I/O layer: the lowest layer of the
// stack, below ethernet. It moves raw Ethernet frames between the stack and
// something that carries them, and knows nothing of the protocols inside
// them.
//
// Every carrier implements [Link], a deliberately tiny interface in the
// spirit of wireguard-go's tun.Device: frames move in batches, and buffers
// belong to whoever allocated them. A receiving link owns its buffers and
// lends them to the rx callback for the duration of the call; a sender
// owns the frames it passes to Send, which copies or writes them before
// returning.
//
// The carriers are:
//
//   - [TAP]: a Linux TAP device through /dev/net/tun (IFF_TAP|IFF_NO_PI,
//     offloads switched off so frames never exceed the MTU).
//   - [Packet]: an AF_PACKET socket bound to one existing interface, e.g. one
//     end of a veth pair.
//   - [WireEnd]: the two ends of an in-memory wire made by [NewWire], with
//     seeded fault injection (drop, duplicate, reorder, corrupt, delay) and
//     synchronous delivery, for deterministic whole-stack tests.
//   - [Playback]: a link whose received frames come from a pcap file.
//
// and [Capture] wraps any link, writing every frame it receives and sends to
// a pcap stream readable by tcpdump and Wireshark.
//
// # Reading real devices
//
// TAP and Packet share one read loop (see fdlink_linux.go). Following the
// measured budget in the project's BUDGET.md it avoids Go's netpoller: a
// dedicated goroutine locked to its OS thread reads the non-blocking file
// descriptor until EAGAIN, collecting up to a batch of frames into
// preallocated buffers, hands the batch to rx, and only when the device is
// empty sleeps in poll(2) on the device and on an eventfd that Close
// signals. Under load there is one read(2) per frame and no poll at all;
// Close wakes an idle reader at once. Each buffer has one byte more than the
// largest frame the MTU allows, so a frame that fills it was truncated (the
// MTU was raised after the link was opened): it is dropped and counted.
//
// # Accounting
//
// Every link keeps [LinkStats] in atomic counters. Nothing is dropped
// silently: a frame refused, truncated, or lost to a full queue is counted
// in RxDropped or TxDropped, and a failing system call in RxErrors or
// TxErrors. Faults injected on purpose by the in-memory wire are counted
// apart, in [FaultStats].
//
// # Lifetime
//
// Beyond the calls the stack's link actor needs, every Link reports the end
// of its delivery through Done and Err, so the actor can stop (and retract
// the interface it asserted) when a device disappears or a playback ends.
package drivers
