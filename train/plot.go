package train

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Curves collects the training curves of a run from Fit's reports: the
// running loss and accuracy at every report, placed at fractional epochs
// (epoch 1.5 is half-way through the second epoch), and the per-epoch
// summaries.
type Curves struct {
	points []curvePoint
	epochs []EpochMetrics
	test   *Metrics
}

type curvePoint struct{ x, loss, acc float64 }

// Add records one report.
func (c *Curves) Add(p Progress) {
	x := float64(p.Epoch - 1)
	if p.Batches > 0 {
		x += float64(p.Batch) / float64(p.Batches)
	}
	c.points = append(c.points, curvePoint{x, p.Loss, p.Accuracy})
	if p.Summary != nil {
		c.epochs = append(c.epochs, *p.Summary)
	}
}

// SetTest records the final test evaluation, drawn as a marker after the
// last epoch.
func (c *Curves) SetTest(m Metrics) { c.test = &m }

// PNG renders loss (top) and accuracy (bottom) against epochs as a PNG of
// the given size in pixels.
func (c *Curves) PNG(width, height int) ([]byte, error) {
	if len(c.points) == 0 {
		return nil, fmt.Errorf("train: no training curves to plot; train for at least one epoch")
	}
	loss, acc := plot.New(), plot.New()
	loss.Title.Text = "training loss"
	loss.Y.Label.Text = "loss"
	acc.Title.Text = "training accuracy"
	acc.Y.Label.Text = "accuracy"
	acc.X.Label.Text = "epoch"
	for _, p := range []*plot.Plot{loss, acc} {
		p.X.Min = 0
		p.Add(plotter.NewGrid())
	}
	acc.Y.Max = 1

	running := func(get func(curvePoint) float64) plotter.XYs {
		xy := make(plotter.XYs, len(c.points))
		for i, p := range c.points {
			xy[i].X, xy[i].Y = p.x, get(p)
		}
		return xy
	}
	perEpoch := func(get func(EpochMetrics) float64) plotter.XYs {
		xy := make(plotter.XYs, len(c.epochs))
		for i, e := range c.epochs {
			xy[i].X, xy[i].Y = float64(e.Epoch), get(e)
		}
		return xy
	}
	type series struct {
		p       *plot.Plot
		run, ep plotter.XYs
		test    float64
	}
	for _, s := range []series{
		{loss, running(func(p curvePoint) float64 { return p.loss }), perEpoch(func(e EpochMetrics) float64 { return e.Loss }), testOr(c.test, func(m Metrics) float64 { return m.Loss })},
		{acc, running(func(p curvePoint) float64 { return p.acc }), perEpoch(func(e EpochMetrics) float64 { return e.Accuracy }), testOr(c.test, func(m Metrics) float64 { return m.Accuracy })},
	} {
		line, err := plotter.NewLine(s.run)
		if err != nil {
			return nil, fmt.Errorf("train: plot: %w", err)
		}
		line.Color = plotter.DefaultLineStyle.Color
		s.p.Add(line)
		s.p.Legend.Add("running mean", line)
		if len(s.ep) > 0 {
			pts, err := plotter.NewScatter(s.ep)
			if err != nil {
				return nil, fmt.Errorf("train: plot: %w", err)
			}
			pts.Shape = draw.CircleGlyph{}
			s.p.Add(pts)
			s.p.Legend.Add("epoch", pts)
		}
		if c.test != nil && len(c.epochs) > 0 {
			tp, err := plotter.NewScatter(plotter.XYs{{X: float64(c.epochs[len(c.epochs)-1].Epoch), Y: s.test}})
			if err != nil {
				return nil, fmt.Errorf("train: plot: %w", err)
			}
			tp.Shape = draw.BoxGlyph{}
			tp.Radius = vg.Points(4)
			s.p.Add(tp)
			s.p.Legend.Add("test", tp)
		}
		s.p.Legend.Top = s.p == loss
	}

	img := vgimg.New(vg.Length(width)*vg.Inch/96, vg.Length(height)*vg.Inch/96)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: 4, PadBottom: 4, PadLeft: 4, PadRight: 8, PadY: 8}
	canvases := plot.Align([][]*plot.Plot{{loss}, {acc}}, tiles, dc)
	loss.Draw(canvases[0][0])
	acc.Draw(canvases[1][0])
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("train: plot: %w", err)
	}
	return buf.Bytes(), nil
}

func testOr(m *Metrics, get func(Metrics) float64) float64 {
	if m == nil {
		return 0
	}
	return get(*m)
}

// WritePNG renders the curves (800×800 pixels) into path atomically: a
// temporary file in the same directory, synced and renamed over path.
func (c *Curves) WritePNG(path string) error {
	b, err := c.PNG(800, 800)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, b)
}

// WriteFileAtomic writes b to path through a synced temporary file renamed
// into place, so that readers see the old file or the new one, never a part.
func WriteFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename this fails harmlessly
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
