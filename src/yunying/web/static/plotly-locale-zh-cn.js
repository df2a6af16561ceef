/* Plotly.js in Chinese (zh-CN): the chart toolbar's tooltips, its messages, and month and
 * day names. The Plotly bundle in the Python package ships English only, and the page's CSP
 * forbids inline scripts, so this file registers the dictionary; app.js loads it on zh-CN
 * pages and sets config.locale. The keys are Plotly's own English strings (plotly.js 4),
 * which is why they are not in the i18n catalogs.
 */
(function () {
  "use strict";
  var locale = {
    moduleType: "locale",
    name: "zh-CN",
    dictionary: {
      "Autoscale": "自动缩放",
      "Box Select": "框选",
      "Compare data on hover": "悬停时比较数据",
      "Double-click on legend to isolate one trace": "双击图例只显示该项",
      "Double-click to zoom back out": "双击恢复原始大小",
      "Download plot": "下载图表",
      "Download plot as a PNG": "下载图表（PNG）",
      "Download plot as JSON": "下载图表（JSON）",
      "Draw circle": "画圆",
      "Draw closed freeform": "画封闭图形",
      "Draw line": "画线",
      "Draw open freeform": "画开放曲线",
      "Draw rectangle": "画矩形",
      "Erase active shape": "删除所选图形",
      "Image download succeeded": "图片已下载",
      "JSON download succeeded": "JSON 已下载",
      "Lasso Select": "套索选择",
      "Orbital rotation": "轨道旋转",
      "Pan": "平移",
      "Preparing image - this may take a few seconds": "正在生成图片，可能需要几秒钟",
      "Produced with Plotly.js": "由 Plotly.js 生成",
      "Reset": "重置",
      "Reset axes": "重置坐标轴",
      "Reset camera to default": "镜头恢复默认",
      "Reset camera to last save": "镜头恢复到上次保存",
      "Reset view": "重置视图",
      "Reset views": "重置视图",
      "Share": "分享",
      "Share chart": "分享图表",
      "Share chart...": "分享图表…",
      "Cancel": "取消",
      "This chart will be sent to {serverUrl}.": "该图表将发送到 {serverUrl}。",
      "Show closest data on hover": "悬停时显示最近的数据",
      "Sorry, there was a problem downloading your JSON file!": "抱歉，JSON 文件下载失败！",
      "Sorry, there was a problem downloading your image!": "抱歉，图片下载失败！",
      "Toggle Spike Lines": "显示或隐藏辅助线",
      "Toggle show closest data on hover": "切换悬停时显示最近的数据",
      "Turntable rotation": "转台旋转",
      "Zoom": "缩放",
      "Zoom in": "放大",
      "Zoom out": "缩小",
      "close:": "收盘：",
      "high:": "最高：",
      "low:": "最低：",
      "open:": "开盘：",
      "kde:": "核密度：",
      "new text": "新文本",
      "trace": "系列"
    },
    format: {
      days: ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
      shortDays: ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
      months: [
        "1月", "2月", "3月", "4月", "5月", "6月",
        "7月", "8月", "9月", "10月", "11月", "12月"
      ],
      shortMonths: [
        "1月", "2月", "3月", "4月", "5月", "6月",
        "7月", "8月", "9月", "10月", "11月", "12月"
      ],
      date: "%Y-%m-%d"
    }
  };
  if (window.Plotly && window.Plotly.register) {
    window.Plotly.register(locale);
  }
  window.YunyingPlotlyLocales = window.YunyingPlotlyLocales || {};
  window.YunyingPlotlyLocales["zh-CN"] = locale;
})();
