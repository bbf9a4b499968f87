package org.lars4j.tool.train;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.lars4j.tool.OutputFiles;

/** The experiment's PNG plots, drawn with JFreeChart. */
final class Plots {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private Plots() {}

    /** Test accuracy by epoch, one line per run. */
    static void accuracy(String title, List<Experiment.RunResult> runs, Path png) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        for (Experiment.RunResult r : runs) {
            XYSeries s = new XYSeries(r.spec.id());
            for (int e = 0; e < r.testAccuracy.size(); e++) {
                double a = r.testAccuracy.get(e);
                if (Double.isFinite(a)) s.add(e + 1, a);
            }
            data.addSeries(s);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, "epoch", "test accuracy", data, PlotOrientation.VERTICAL,
                true, false, false);
        XYPlot plot = chart.getXYPlot();
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        for (int i = 0; i < runs.size(); i++) {
            renderer.setSeriesStroke(i, new BasicStroke(runs.get(i).spec.baseline() ? 3f : 1.5f));
            if (runs.get(i).spec.baseline()) renderer.setSeriesPaint(i, Color.BLACK);
        }
        plot.setRenderer(renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.getRangeAxis().setRange(0, 1);
        save(chart, png, 1100, 700);
    }

    /** Per-layer trust ratios of a run ({@code ratio}: their formula, for the axis), by step, on a log scale. */
    static void trustRatios(Experiment.RunResult r, String ratio, Path png) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        for (int k = 0; k < r.trustRatioSegments.size(); k++) {
            XYSeries s = new XYSeries(r.trustRatioSegments.get(k));
            for (int t = 0; t < r.trustRatios.size(); t++) {
                double v = r.trustRatios.get(t)[k];
                if (Double.isFinite(v) && v > 0) s.add(t + 1, v);
            }
            data.addSeries(s);
        }
        JFreeChart chart = ChartFactory.createXYLineChart("Per-layer trust ratio, " + r.spec.id(), "step",
                "trust ratio (" + ratio + ")", data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        LogAxis log = new LogAxis("trust ratio (" + ratio + "), log scale");
        log.setSmallestValue(1e-9);
        plot.setRangeAxis(log);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        save(chart, png, 1100, 700);
    }

    private static void save(JFreeChart chart, Path png, int w, int h) throws IOException {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        ChartUtils.writeChartAsPNG(bytes, chart, w, h);
        OutputFiles.writeBytes(png, bytes.toByteArray());
    }
}
