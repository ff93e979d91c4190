package dev.serval.bench.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.CategoryLabelPositions;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * The report's charts as PNG bytes, drawn with JFreeChart off screen. Stateless.
 *
 * <p>Design note: the report must open on a machine with no display and no network, so charts are
 * raster images embedded in the HTML (data URIs), drawn headless: {@code java.awt.headless} is set
 * here before AWT first loads, whatever the caller did.
 */
final class Charts {
    static final int WIDTH = 900;
    static final int HEIGHT = 480;
    private static final Color[] PALETTE = {
        new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
        new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f),
    };

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private Charts() {
    }

    /**
     * One line per system: median answers/s against clients (log-2 axis).
     *
     * @param series system label -> (clients -> answers/s), in clients order
     */
    static byte[] throughputVsClients(String title, Map<String, Map<Integer, Double>> series) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        series.forEach((label, points) -> {
            XYSeries line = new XYSeries(label);
            points.forEach(line::add);
            data.addSeries(line);
        });
        JFreeChart chart = ChartFactory.createXYLineChart(title, "clients", "answers / s", data,
                PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        LogAxis clients = new LogAxis("clients (log scale)");
        clients.setBase(2);
        clients.setTickUnit(new NumberTickUnit(1));
        clients.setNumberFormatOverride(new java.text.DecimalFormat("0"));
        plot.setDomainAxis(clients);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        for (int i = 0; i < data.getSeriesCount(); i++) {
            renderer.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
            renderer.setSeriesStroke(i, new BasicStroke(2f));
        }
        plot.setRenderer(renderer);
        return png(chart);
    }

    /**
     * Grouped bars: for each category (a system's load), one bar per series (e.g. p50, p99).
     *
     * @param values series -> (category -> value); categories in the order given
     */
    static byte[] bars(String title, String axis, Map<String, Map<String, Double>> values) throws IOException {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        values.forEach((series, byCategory) -> byCategory.forEach((category, v) -> data.addValue(v, series, category)));
        JFreeChart chart = ChartFactory.createBarChart(title, null, axis, data, PlotOrientation.VERTICAL,
                values.size() > 1, false, false);
        CategoryPlot plot = chart.getCategoryPlot();
        BarRenderer renderer = (BarRenderer) plot.getRenderer();
        renderer.setBarPainter(new StandardBarPainter());
        renderer.setShadowVisible(false);
        renderer.setItemMargin(0.05);
        for (int i = 0; i < values.size(); i++) {
            renderer.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
        }
        CategoryAxis categories = plot.getDomainAxis();
        categories.setMaximumCategoryLabelLines(3);
        categories.setTickLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
        if (data.getColumnCount() > 4) {
            categories.setCategoryLabelPositions(CategoryLabelPositions.UP_45);
        }
        return png(chart);
    }

    /** One bar per category, one series. */
    static byte[] bars(String title, String axis, String series, List<Map.Entry<String, Double>> values)
            throws IOException {
        Map<String, Double> byCategory = new java.util.LinkedHashMap<>();
        values.forEach(e -> byCategory.put(e.getKey(), e.getValue()));
        return bars(title, axis, Map.of(series, byCategory));
    }

    private static byte[] png(JFreeChart chart) throws IOException {
        chart.setBackgroundPaint(Color.WHITE);
        chart.getPlot().setBackgroundPaint(new Color(0xf7f7f7));
        BufferedImage image = chart.createBufferedImage(WIDTH, HEIGHT);
        return ChartUtils.encodeAsPNG(image);
    }
}
