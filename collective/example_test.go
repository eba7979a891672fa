package collective_test

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/shoal-dl/shoal/collective"
)

// Three ranks, here goroutines of one process, sum their buffers.
func ExampleDial() {
	const n = 3
	lns := make([]net.Listener, n)
	addrs := make([]string, n)
	for i := range lns {
		lns[i], _ = net.Listen("tcp", "127.0.0.1:0")
		addrs[i] = lns[i].Addr().String()
	}
	results := make([][]float32, n)
	var wg sync.WaitGroup
	for rank := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := collective.Dial(context.Background(), collective.Config{
				Rank: rank, Addrs: addrs, Listener: lns[rank], Transport: collective.TransportTCP,
			})
			if err != nil {
				fmt.Println(err)
				return
			}
			defer c.Close()
			buf := []float32{float32(rank), 10}
			if err := c.AllReduce(context.Background(), buf, collective.Sum); err != nil {
				fmt.Println(err)
				return
			}
			results[rank] = buf
		}()
	}
	wg.Wait()
	fmt.Println(results)
	// Output: [[3 30] [3 30] [3 30]]
}

func ExamplePlanBuckets() {
	// Gradients of six parameters, fused into buckets of at most 1000 elements.
	fmt.Println(collective.PlanBuckets([]int{10, 500, 400, 2000, 30, 30}, 1000))
	// Output: [{0 3 910} {3 4 2000} {4 6 60}]
}
