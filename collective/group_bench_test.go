package collective_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shoal-dl/shoal/collective"
	"github.com/shoal-dl/shoal/collective/collectivetest"
)

// BenchmarkAllReduceSHM times AllReduce between two ranks of this process
// over shared memory, through the group and over the rings alone.
func BenchmarkAllReduceSHM(b *testing.B) {
	for _, transport := range []string{collective.TransportSHM, shmRing} {
		for _, size := range []int{4 << 10, 1 << 20, 16 << 20} {
			b.Run(fmt.Sprintf("%s/%dKiB", transport, size>>10), func(b *testing.B) {
				cfg := transportConfig(transport, collective.Options{})
				b.SetBytes(int64(size))
				collectivetest.RunWith(b, 2, cfg, func(c *collective.Communicator) {
					buf := make([]float32, size/4)
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
