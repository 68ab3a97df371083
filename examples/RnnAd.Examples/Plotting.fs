namespace RnnAd.Examples

open System
open System.IO
open ScottPlot
open SkiaSharp

/// One named line: y values at x positions.
type Series =
    { Label: string
      X: float[]
      Y: float[] }

/// One panel of lines.
type LinePanel =
    { Title: string
      XLabel: string
      YLabel: string
      /// Labels for the x ticks at 0, 1, 2, … (e.g. each step's input character); empty for plain numbers.
      XTickLabels: string[]
      /// Draw y on a log₁₀ scale (every value must be positive), as for loss curves.
      LogY: bool
      /// Fixed y limits (low, high), e.g. (0, 1) for probabilities so that panels compare; None fits the data.
      YRange: (float * float) option
      Series: Series list }

/// A heat map of a table of numbers, rows top to bottom, with a diverging colour scale centred on 0.
type HeatmapSpec =
    { Title: string
      /// Values as [row, column].
      Values: float[,]
      RowLabels: string[]
      ColumnLabels: string[]
      /// Colours span [−v, v] with white at 0 (matplotlib's vmin = −v, vmax = v); None takes the largest |value|.
      Limit: float option
      /// Print each value in its cell.
      ShowValues: bool
      /// Columns before which a vertical line separates groups (e.g. [h | logits | ŷ]).
      Dividers: int list }

/// Pictures the seed examples draw, as PNG files written atomically (temporary file, then rename).
[<RequireQualifiedAccess>]
module Plotting =

    /// Pixels per panel of a line figure.
    let private panelWidth, panelHeight = 440, 400

    /// Height of the band holding a figure's overall title.
    let private titleBand = 46

    /// matplotlib's `bwr`: blue at −v, white at 0, red at +v.
    let blueWhiteRed: IColormap =
        Colormaps.CustomInterpolated([| Color(0uy, 0uy, 255uy); Color(255uy, 255uy, 255uy); Color(255uy, 0uy, 0uy) |])

    /// A series over steps 0, 1, …, n − 1.
    let series (label: string) (values: float[]) : Series =
        { Label = label; X = Array.init values.Length float; Y = Array.copy values }

    /// A series over epochs 1, 2, …, n.
    let perEpoch (label: string) (values: float[]) : Series =
        { Label = label; X = Array.init values.Length (fun i -> float (i + 1)); Y = Array.copy values }

    /// A panel with x labelled "step t", plain ticks, a linear y axis fitted to the data.
    let panel (title: string) (yLabel: string) (series: Series list) : LinePanel =
        { Title = title; XLabel = "step t"; YLabel = yLabel; XTickLabels = [||]; LogY = false; YRange = None; Series = series }

    /// The columns of a table [row, column] from named columns of equal length: (labels, values).
    let columns (named: (string * float[]) list) : string[] * float[,] =
        match named with
        | [] -> invalidArg "named" "a table needs at least one column, got none"
        | (_, first) :: _ ->
            named |> List.iter (fun (label, c) ->
                if c.Length <> first.Length then
                    invalidArg "named" (sprintf "column '%s' has %d rows, the first column has %d" label c.Length first.Length))
            let cols = Array.ofList named
            cols |> Array.map fst, Array2D.init first.Length cols.Length (fun r c -> (snd cols.[c]).[r])

    /// Writes bytes to `path` through a temporary file in the same folder, so a reader never sees half a file.
    let private writeAtomically (path: string) (bytes: byte[]) : string =
        let full = Path.GetFullPath path
        Directory.CreateDirectory(Path.GetDirectoryName full) |> ignore
        let temporary = full + ".tmp"
        try
            File.WriteAllBytes(temporary, bytes)
            File.Move(temporary, full, true)
        with _ ->
            File.Delete temporary
            reraise ()
        full

    let private checkPath (path: string) =
        if String.IsNullOrWhiteSpace path then invalidArg "path" "the picture needs a file path, got an empty one"
        if not (path.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) then
            invalidArg "path" (sprintf "pictures are written as PNG, so the path must end in .png, got '%s'" path)

    let private checkSeries (s: Series) =
        if s.X.Length <> s.Y.Length then
            invalidArg "series" (sprintf "series '%s' has %d x values and %d y values" s.Label s.X.Length s.Y.Length)

    /// Draws one panel into a plot. Short series get dashed lines with markers (matplotlib's '--o'), so
    /// each step is visible; long ones plain lines.
    let private drawPanel (plot: Plot) (p: LinePanel) =
        p.Series |> List.iter checkSeries
        if p.LogY then
            for s in p.Series do
                match s.Y |> Array.tryFind (fun v -> not (v > 0.0)) with
                | Some v -> invalidArg "panel" (sprintf "panel '%s' has a log y axis but series '%s' holds %g" p.Title s.Label v)
                | None -> ()
        for s in p.Series do
            let ys = if p.LogY then Array.map Math.Log10 s.Y else s.Y
            let line = plot.Add.Scatter(s.X, ys)
            line.LegendText <- s.Label
            line.LineWidth <- 2.0f
            if s.X.Length <= 30 then
                line.LinePattern <- LinePattern.Dashed
                line.MarkerSize <- 8.0f
            else line.MarkerSize <- 0.0f
        plot.Title(p.Title, 15.0f)
        plot.XLabel(p.XLabel, 13.0f)
        plot.YLabel(p.YLabel, 13.0f)
        if p.XTickLabels.Length > 0 then
            plot.Axes.Bottom.TickGenerator <- TickGenerators.NumericManual(Array.init p.XTickLabels.Length float, p.XTickLabels)
        if p.LogY then
            let ticks = TickGenerators.NumericAutomatic()
            ticks.MinorTickGenerator <- TickGenerators.LogMinorTickGenerator()
            ticks.IntegerTicksOnly <- true
            ticks.LabelFormatter <- Func<float, string>(fun y -> (10.0 ** y).ToString("G3", Globalization.CultureInfo.InvariantCulture))
            plot.Axes.Left.TickGenerator <- ticks
        match p.YRange with
        | Some (low, high) when low < high && (not p.LogY || low > 0.0) ->
            if p.LogY then plot.Axes.SetLimitsY(Math.Log10 low, Math.Log10 high) else plot.Axes.SetLimitsY(low, high)
        | Some (low, high) -> invalidArg "panel" (sprintf "panel '%s': the y range must have low < high (and low > 0 on a log axis), got (%g, %g)" p.Title low high)
        | None -> ()
        // Below the axes rather than inside them, where it would hide points.
        if p.Series |> List.exists (fun s -> s.Label <> "") then
            plot.ShowLegend(Edge.Bottom) |> ignore

    /// Draws `draw` into a white image of the given size under an overall title, and encodes it as PNG.
    let private renderWithTitle (title: string) (width: int) (height: int) (draw: SKCanvas -> PixelRect -> unit) : byte[] =
        use surface = SKSurface.Create(SKImageInfo(width, height))
        let canvas = surface.Canvas
        canvas.Clear(SKColors.White)
        // In 5.1.59 Multiplot.Render lays its plots out from the canvas origin whatever the rectangle's top,
        // so the title band is made by moving the origin.
        canvas.Save() |> ignore
        canvas.Translate(0.0f, float32 titleBand)
        draw canvas (PixelRect(0.0f, float32 width, float32 (height - titleBand), 0.0f))
        canvas.Restore()
        use font = new SKFont(SKTypeface.Default, 22.0f)
        use paint = new SKPaint(Color = SKColors.Black, IsAntialias = true)
        canvas.DrawText(title, float32 width / 2.0f, float32 titleBand - 14.0f, SKTextAlign.Center, font, paint)
        use image = surface.Snapshot()
        use data = image.Encode(SKEncodedImageFormat.Png, 100)
        data.ToArray()

    /// Several line panels side by side in one PNG under an overall title (the seeds' "Vis1"); returns the
    /// full path written.
    let linePanels (title: string) (panels: LinePanel list) (path: string) : string =
        checkPath path
        if List.isEmpty panels then invalidArg "panels" "a figure needs at least one panel, got none"
        let plots =
            panels |> List.map (fun p ->
                let plot = new Plot()
                drawPanel plot p
                // The same margins in every panel, so the axes line up even when one legend needs two rows.
                plot.Layout.Fixed(PixelPadding(75.0f, 20.0f, 125.0f, 40.0f))
                plot)
        try
            let multiplot = Multiplot()
            multiplot.Layout <- MultiplotLayouts.Columns()
            // A new Multiplot holds one empty plot; the panels replace it.
            multiplot.Subplots.RemoveAt 0
            plots |> List.iter multiplot.AddPlot
            let width = panelWidth * panels.Length
            let height = panelHeight + titleBand
            renderWithTitle title width height (fun canvas rect -> multiplot.Render(canvas, rect)) |> writeAtomically path
        finally
            plots |> List.iter (fun p -> p.Dispose())

    /// One line panel as a PNG (a series over time, a loss curve); returns the full path written.
    let lines (p: LinePanel) (path: string) : string =
        checkPath path
        use plot = new Plot()
        drawPanel plot p
        plot.GetImageBytes(640, 440, ImageFormat.Png) |> writeAtomically path

    /// Training loss per epoch of one or more runs, on a log scale; returns the full path written.
    let lossCurve (title: string) (runs: (string * float[]) list) (path: string) : string =
        lines
            { Title = title; XLabel = "epoch"; YLabel = "loss (log scale)"; XTickLabels = [||]; LogY = true; YRange = None
              Series = runs |> List.map (fun (label, losses) -> perEpoch label losses) }
            path

    /// A heat map with rows top to bottom, labelled rows and columns, the blue–white–red scale symmetric
    /// around 0 and a colour bar (the seeds' "Vis2"); returns the full path written.
    let heatmap (spec: HeatmapSpec) (path: string) : string =
        checkPath path
        let rows, cols = Array2D.length1 spec.Values, Array2D.length2 spec.Values
        if rows = 0 || cols = 0 then invalidArg "spec" (sprintf "heat map '%s' has no cells (%d × %d)" spec.Title rows cols)
        if spec.RowLabels.Length <> rows then
            invalidArg "spec" (sprintf "heat map '%s' has %d rows but %d row labels" spec.Title rows spec.RowLabels.Length)
        if spec.ColumnLabels.Length <> cols then
            invalidArg "spec" (sprintf "heat map '%s' has %d columns but %d column labels" spec.Title cols spec.ColumnLabels.Length)
        let largest = spec.Values |> Seq.cast<float> |> Seq.map abs |> Seq.max
        let limit =
            match spec.Limit with
            | Some v when v > 0.0 -> v
            | Some v -> invalidArg "spec" (sprintf "heat map '%s': the colour limit must be positive, got %g" spec.Title v)
            | None -> if largest > 0.0 then largest else 1.0
        for c in spec.Dividers do
            if c <= 0 || c >= cols then
                invalidArg "spec" (sprintf "heat map '%s': a divider must fall between columns 1 and %d, got %d" spec.Title (cols - 1) c)
        use plot = new Plot()
        let map = plot.Add.Heatmap(spec.Values)
        map.Colormap <- blueWhiteRed
        map.ManualRange <- Nullable(Range(-limit, limit))
        // ScottPlot draws row 0 of the table at the top, centred on y = rows − 1, and cell (r, c) on
        // (c, rows − 1 − r). (An inverted y axis would read more directly, but 5.1.59 then draws the rows with
        // unequal heights.)
        let y (r: int) = float (rows - 1 - r)
        plot.Add.ColorBar(map, Edge.Right) |> ignore
        if spec.ShowValues then
            for r in 0 .. rows - 1 do
                for c in 0 .. cols - 1 do
                    let text = plot.Add.Text(spec.Values.[r, c].ToString("0.00", Globalization.CultureInfo.InvariantCulture), float c, y r)
                    text.LabelAlignment <- Alignment.MiddleCenter
                    text.LabelFontSize <- 11.0f
                    // Dark text on light cells, white on deep blue or red.
                    if abs spec.Values.[r, c] > 0.6 * limit then text.LabelFontColor <- Colors.White
        for c in spec.Dividers do
            let line = plot.Add.VerticalLine(float c - 0.5)
            line.Color <- Colors.Black
            line.LineWidth <- 3.0f
        plot.Title(spec.Title, 16.0f)
        plot.Axes.Bottom.TickGenerator <- TickGenerators.NumericManual(Array.init cols float, spec.ColumnLabels)
        plot.Axes.Left.TickGenerator <- TickGenerators.NumericManual(Array.init rows y, spec.RowLabels)
        plot.Axes.Bottom.TickLabelStyle.FontSize <- 13.0f
        plot.Axes.Left.TickLabelStyle.FontSize <- 13.0f
        plot.Axes.SetLimits(-0.5, float cols - 0.5, -0.5, float rows - 0.5)
        let width = 200 + 64 * cols + 120
        let height = 120 + 30 * rows
        plot.GetImageBytes(width, height, ImageFormat.Png) |> writeAtomically path
