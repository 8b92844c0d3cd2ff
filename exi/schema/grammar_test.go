package schema

import (
	"strings"
	"testing"
)

// TestSpecExample reproduces the normalized ProductElement grammar of EXI
// 1.0 §8.5.4.4.2 (event codes are positions).
func TestSpecExample(t *testing.T) {
	g, err := Compile("testdata/product.xsd")
	if err != nil {
		t.Fatal(err)
	}
	ti, ok := g.GlobalTypes[QName{"", "ProductType"}]
	if !ok {
		t.Fatal("ProductType not found")
	}
	want := strings.Join([]string{
		"0: AT(color)->1 AT(sku)->2",
		"1: AT(sku)->2",
		"2: SE(description)->3 SE(quantity)->4",
		"3: SE(quantity)->4",
		"4: SE(price)->5",
		"5: SE(description)->6 SE(quantity)->7 EE",
		"6: SE(quantity)->7",
		"7: SE(price)->8",
		"8: EE",
	}, "\n") + "\n"
	if got := render(g, g.Types[ti].Grammar); got != want {
		t.Errorf("ProductType grammar\n got:\n%s\nwant:\n%s", got, want)
	}
	wantEmpty := "0: AT(color)->1 AT(sku)->2\n1: AT(sku)->2\n2: EE\n"
	if got := render(g, g.Types[ti].Empty); got != wantEmpty {
		t.Errorf("ProductType TypeEmpty\n got:\n%s\nwant:\n%s", got, wantEmpty)
	}
}
