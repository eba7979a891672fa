package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shoal-dl/shoal/tensor/internal/gemm"
)

// lenetLayers are the convolutions of the LeNet-style model shoal trains
// on Fashion-MNIST: 1×28×28 → 32 5×5 pad 2 → pool 2 → 64 5×5 pad 2 → pool 2.
var lenetLayers = []struct {
	name       string
	c, h, w, f int
}{
	{"conv1", 1, 28, 28, 32},
	{"conv2", 32, 14, 14, 64},
}

var lenetGeom = ConvGeom{KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2}

func convFlops(n, c, f, oh, ow int, g ConvGeom) float64 {
	return 2 * float64(n*f*oh*ow*c*g.KH*g.KW)
}

func BenchmarkConv2D(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{64, 128} {
		for _, l := range lenetLayers {
			x, w, bias := randTensor(rng, n, l.c, l.h, l.w), randTensor(rng, l.f, l.c, 5, 5), randTensor(rng, l.f)
			oh, ow := lenetGeom.OutSize(l.h, l.w)
			y, dy := New(n, l.f, oh, ow), randTensor(rng, n, l.f, oh, ow)
			dx, dw, db := New(x.Shape...), New(w.Shape...), New(l.f)
			flops := convFlops(n, l.c, l.f, oh, ow, lenetGeom)
			b.Run(fmt.Sprintf("%s/N=%d/forward", l.name, n), func(b *testing.B) {
				for b.Loop() {
					Conv2D(y, x, w, bias, lenetGeom)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
			b.Run(fmt.Sprintf("%s/N=%d/forward-one-gemm", l.name, n), func(b *testing.B) {
				col := make([]float32, l.c*25*n*oh*ow)
				tmp := make([]float32, l.f*n*oh*ow)
				for b.Loop() {
					conv2DOneGEMM(y, x, w, bias, lenetGeom, col, tmp)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
			b.Run(fmt.Sprintf("%s/N=%d/backward", l.name, n), func(b *testing.B) {
				dxx := dx
				if l.c == 1 {
					dxx = nil // the first layer needs no input gradient
				}
				for b.Loop() {
					Conv2DGrad(dxx, dw, db, x, w, dy, lenetGeom)
				}
				f := 2 * flops
				if dxx == nil {
					f = flops
				}
				b.ReportMetric(f*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// conv2DOneGEMM is the other way to run a batched convolution, kept here
// to compare against Conv2D: the im2col matrices of all images side by
// side ([C·KH·KW, N·P]), one multi-threaded GEMM into [F, N·P], then a
// transpose into NCHW.
func conv2DOneGEMM(dst, x, w, b *Tensor, g ConvGeom, col, tmp []float32) {
	n, c, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	f := w.Shape[0]
	oh, ow := g.OutSize(h, wd)
	p, ckk := oh*ow, c*g.KH*g.KW
	img := make([]float32, ckk*p)
	for i := 0; i < n; i++ {
		Im2Col(img, x.Data[i*c*h*wd:(i+1)*c*h*wd], c, h, wd, g)
		for r := 0; r < ckk; r++ {
			copy(col[r*n*p+i*p:r*n*p+(i+1)*p], img[r*p:(r+1)*p])
		}
	}
	gemm.Sgemm(false, false, f, n*p, ckk, 1, w.Data, ckk, col, n*p, 0, tmp, n*p)
	for i := 0; i < n; i++ {
		for j := 0; j < f; j++ {
			out := dst.Data[(i*f+j)*p : (i*f+j+1)*p]
			copy(out, tmp[j*n*p+i*p:j*n*p+(i+1)*p])
			if b != nil {
				addScalarKernel(out, out, b.Data[j])
			}
		}
	}
}

func BenchmarkPool(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	g := ConvGeom{KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	x := randTensor(rng, 64, 32, 28, 28)
	y := New(64, 32, 14, 14)
	argmax := make([]int32, y.Len())
	dx := New(x.Shape...)
	b.Run("MaxPool2D/64x32x28x28", func(b *testing.B) {
		b.SetBytes(int64(4 * x.Len()))
		for b.Loop() {
			MaxPool2D(y, argmax, x, g)
		}
	})
	b.Run("MaxPool2DGrad/64x32x28x28", func(b *testing.B) {
		b.SetBytes(int64(4 * x.Len()))
		for b.Loop() {
			MaxPool2DGrad(dx, y, argmax)
		}
	})
}

func BenchmarkElementwise(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{1 << 10, 1 << 20} {
		x, dy, y := randTensor(rng, n), randTensor(rng, n), New(n)
		b.Run(fmt.Sprintf("ReLU/%d", n), func(b *testing.B) {
			b.SetBytes(int64(8 * n))
			for b.Loop() {
				ReLU(y, x)
			}
		})
		b.Run(fmt.Sprintf("ReLUGrad/%d", n), func(b *testing.B) {
			b.SetBytes(int64(12 * n))
			for b.Loop() {
				ReLUGrad(y, x, dy)
			}
		})
		b.Run(fmt.Sprintf("Add/%d", n), func(b *testing.B) {
			b.SetBytes(int64(12 * n))
			for b.Loop() {
				Add(y, x, dy)
			}
		})
		b.Run(fmt.Sprintf("Exp/%d", n), func(b *testing.B) {
			b.SetBytes(int64(8 * n))
			for b.Loop() {
				Exp(y, x)
			}
		})
		b.Run(fmt.Sprintf("GELU/%d", n), func(b *testing.B) {
			b.SetBytes(int64(8 * n))
			for b.Loop() {
				GELU(y, x)
			}
		})
	}
	for _, sh := range [][2]int{{128, 512}, {64, 32 * 28 * 28}} {
		a, v, dst := randTensor(rng, sh[0], sh[1]), randTensor(rng, sh[1]), New(sh[0], sh[1])
		b.Run(fmt.Sprintf("AddRowVector/%dx%d", sh[0], sh[1]), func(b *testing.B) {
			b.SetBytes(int64(8 * a.Len()))
			for b.Loop() {
				AddRowVector(dst, a, v)
			}
		})
		b.Run(fmt.Sprintf("SumRows/%dx%d", sh[0], sh[1]), func(b *testing.B) {
			b.SetBytes(int64(4 * a.Len()))
			for b.Loop() {
				SumRows(v, a, false)
			}
		})
	}
	a, c := randTensor(rng, 64, 32, 14, 14), randTensor(rng, 1, 32, 1, 1)
	dst := New(a.Shape...)
	b.Run("Mul/channel-broadcast/64x32x14x14", func(b *testing.B) {
		b.SetBytes(int64(8 * a.Len()))
		for b.Loop() {
			Mul(dst, a, c)
		}
	})
}

func BenchmarkSoftmaxCrossEntropy(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, sh := range [][2]int{{128, 10}, {64, 1000}} {
		n, c := sh[0], sh[1]
		logits, probs, dl := randTensor(rng, n, c), New(n, c), New(n, c)
		labels := make([]int32, n)
		for i := range labels {
			labels[i] = int32(rng.IntN(c))
		}
		b.Run(fmt.Sprintf("%dx%d", n, c), func(b *testing.B) {
			for b.Loop() {
				SoftmaxCrossEntropy(probs, logits, labels)
				SoftmaxCrossEntropyGrad(dl, probs, labels, 1/float32(n))
			}
		})
	}
}
