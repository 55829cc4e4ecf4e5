package shm_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// TestImageInstallRoundTrip: Image copies every variable with its value
// and version, and Install of the copy into a new file of the same seed
// and capacities gives back the same Image.
func TestImageInstallRoundTrip(t *testing.T) {
	cfg := shm.Config{Vars: 64, Procs: 4, Lanes: 4, GroupMax: 16}
	m := newMem(t, cfg)
	for i := range 20 {
		if _, err := m.Set([]byte(fmt.Sprintf("v%d", i)), shm.ParseValue([]byte(fmt.Sprint(i*7)))); err != nil {
			t.Fatal(err)
		}
	}
	m.Set([]byte("text"), shm.Bytes([]byte("hello world")))
	m.Delete([]byte("v3"))
	img, err := m.Image(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Vars) != 20 {
		t.Fatalf("Image holds %d variables, want 20", len(img.Vars))
	}
	cfg2 := cfg
	cfg2.Seed = img.Seed
	m2 := newMem(t, cfg2)
	if err := m2.Install(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	img2, err := m2.Image(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a, b := imageString(img), imageString(img2); a != b {
		t.Fatalf("after Install:\n%s\nwant:\n%s", b, a)
	}
}

func imageString(img shm.Image) string {
	s := fmt.Sprint(img.Seed, img.Capacity, img.NameMax, img.ValueMax, img.GroupMax)
	got := map[string]string{}
	for _, v := range img.Vars {
		got[string(v.Name)] = fmt.Sprintf("%s@%d", v.Value.AppendText(nil), v.Version)
	}
	return s + fmt.Sprint(got) // maps print sorted
}

// BenchmarkImage is the pause of a backup: Image of a file of the default
// capacity (65536 variables) holding 10000, beside a Get, the cost of one
// read.
func BenchmarkImage(b *testing.B) {
	m := newMem(b, shm.Config{Vars: shm.DefaultVars, Procs: 8, Lanes: 16})
	for i := range 10000 {
		if _, err := m.Set([]byte(fmt.Sprintf("var%d", i)), shm.Int(int64(i))); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("image", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.Image(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := m.Get([]byte("var1")); err != nil {
				b.Fatal(err)
			}
		}
	})
}
