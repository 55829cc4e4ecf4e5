package main

import (
	"fmt"
	"html"
	"math"
	"strings"
	"unicode/utf8"
)

// Chart geometry, in SVG user units.
const (
	chartLabelW = 330 // room for the row labels, at least
	chartCharW  = 6.5 // the width of a label's character, about, at 12 px
	chartBarW   = 420 // the bar area
	chartRowH   = 22
	chartTop    = 40
	chartBottom = 30
)

// chart draws one horizontal bar per row, its length the ratio (above 1:
// dsm better), with a dashed line at 1.0 (labelled ref) and a tick at each
// row's goal. Bars that meet their target are green, those that miss it
// red, rows without a target grey.
func chart(all []row, title, ref string) string {
	var rows []row
	for _, r := range all {
		if r.hasRatio() {
			rows = append(rows, r)
		}
	}
	top := 1.0
	for _, r := range rows {
		top = math.Max(top, math.Max(r.ratio, r.goal))
	}
	top = math.Ceil(top*4) / 4
	scale := chartBarW / top
	labelW := chartLabelW
	for _, r := range rows {
		labelW = max(labelW, int(math.Ceil(float64(utf8.RuneCountInString(r.label))*chartCharW))+16)
	}
	h := chartTop + len(rows)*chartRowH + chartBottom
	w := labelW + chartBarW + 60
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	for i, r := range rows {
		y := chartTop + i*chartRowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-8, y+15, html.EscapeString(r.label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", labelW, y+3, r.ratio*scale, chartRowH-6, barColor(r))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%.2f</text>`+"\n", float64(labelW)+r.ratio*scale+4, y+15, r.ratio)
		if r.goal > 0 {
			gx := float64(labelW) + r.goal*scale
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-width="2"/>`+"\n", gx, y+1, gx, y+chartRowH-1)
		}
	}
	x1 := float64(labelW) + scale
	bottom := chartTop + len(rows)*chartRowH
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-dasharray="4 3"/>`+"\n", x1, chartTop-4, x1, bottom+4)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x1, bottom+20, html.EscapeString(ref))
	b.WriteString("</svg>\n")
	return b.String()
}

func barColor(r row) string {
	switch {
	case r.target == "":
		return "#9e9e9e"
	case r.met:
		return "#2e7d32"
	}
	return "#c62828"
}
