package collective_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shoal-dl/shoal/collective"
	"github.com/shoal-dl/shoal/collective/collectivetest"
)

// BenchmarkAllReduceSHM times AllReduce between two ranks of this process
// over shared memory: of a shared buffer, in place; of private memory,
// through the group's staging areas; and over the rings alone.
const sharedBuffer = "shared-buffer"

func BenchmarkAllReduceSHM(b *testing.B) {
	for _, transport := range []string{sharedBuffer, collective.TransportSHM, shmRing} {
		for _, size := range []int{4 << 10, 1 << 20, 16 << 20} {
			b.Run(fmt.Sprintf("%s/%dKiB", transport, size>>10), func(b *testing.B) {
				cfg := transportConfig(transport, collective.Options{})
				if transport == sharedBuffer {
					cfg = transportConfig(collective.TransportSHM, collective.Options{})
				}
				b.SetBytes(int64(size))
				collectivetest.RunWith(b, 2, cfg, func(c *collective.Communicator) {
					buf := make([]float32, size/4)
					if transport == sharedBuffer {
						var err error
						if buf, err = c.SharedBuffer(context.Background(), size/4); err != nil || buf == nil {
							b.Errorf("SharedBuffer: %v", err)
							return
						}
					}
					for i := 0; i < b.N; i++ {
						if err := c.AllReduce(context.Background(), buf, collective.Sum); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
