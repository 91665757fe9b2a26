package dev.tinysam.demo.ui

import android.net.Uri
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.DropdownMenu
import androidx.compose.material3.DropdownMenuItem
import androidx.compose.material3.FilterChip
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.core.content.FileProvider
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import dev.tinysam.demo.PromptTool
import dev.tinysam.demo.SegmentUiState
import dev.tinysam.demo.SegmentViewModel
import dev.tinysam.demo.Stage
import java.io.File

/** The app's only screen: image with prompts and mask, tools, everything button, latencies. */
@Composable
fun SegmentScreen(viewModel: SegmentViewModel) {
    val state by viewModel.state.collectAsStateWithLifecycle()
    val context = LocalContext.current
    val pick = rememberLauncherForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri: Uri? ->
        uri?.let(viewModel::loadImage)
    }
    var captureUri by remember { mutableStateOf<Uri?>(null) }
    val capture = rememberLauncherForActivityResult(ActivityResultContracts.TakePicture()) { saved ->
        if (saved) captureUri?.let(viewModel::loadImage)
    }
    Scaffold { padding ->
        Column(Modifier.fillMaxSize().padding(padding).padding(8.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Button(onClick = { pick.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly)) }) { Text("Pick") }
                OutlinedButton(onClick = {
                    val file = File(context.cacheDir, "captures/capture.jpg").apply { parentFile?.mkdirs() }
                    val uri = FileProvider.getUriForFile(context, "${context.packageName}.files", file)
                    captureUri = uri
                    capture.launch(uri)
                }) { Text("Camera") }
                VariantMenu(state, viewModel)
            }
            ToolRow(state, viewModel)
            Box(Modifier.fillMaxWidth().weight(1f), contentAlignment = Alignment.Center) {
                val image = state.image
                if (image == null) {
                    Text("Pick or capture a photo, then tap the object.")
                } else {
                    ImageCanvas(
                        image = image,
                        overlay = state.overlay,
                        points = state.points,
                        box = state.box,
                        tool = state.tool,
                        onTap = viewModel::onTap,
                        onBox = viewModel::onBox,
                    )
                }
            }
            state.progress?.let { p ->
                Text("Everything: ${p.pass} pass, ${p.done} / ${p.total} prompts")
                LinearProgressIndicator(progress = { p.fraction }, modifier = Modifier.fillMaxWidth())
            }
            state.busy?.let { Text(it) }
            LatencyRow(state)
        }
    }
    state.error?.let { message ->
        AlertDialog(
            onDismissRequest = viewModel::dismissError,
            confirmButton = { TextButton(onClick = viewModel::dismissError) { Text("OK") } },
            title = { Text("Error") },
            text = { Text(message) },
        )
    }
}

@Composable
private fun ToolRow(state: SegmentUiState, viewModel: SegmentViewModel) {
    Row(horizontalArrangement = Arrangement.spacedBy(6.dp), verticalAlignment = Alignment.CenterVertically) {
        for ((tool, label) in listOf(PromptTool.POSITIVE_POINT to "+ point", PromptTool.NEGATIVE_POINT to "- point", PromptTool.BOX to "Box")) {
            FilterChip(selected = state.tool == tool, onClick = { viewModel.selectTool(tool) }, label = { Text(label) })
        }
        TextButton(onClick = viewModel::clearPrompts) { Text("Clear") }
        Button(onClick = viewModel::runEverything, enabled = state.image != null && state.busy == null) { Text("Everything") }
    }
}

@Composable
private fun VariantMenu(state: SegmentUiState, viewModel: SegmentViewModel) {
    var open by remember { mutableStateOf(false) }
    Box {
        OutlinedButton(onClick = { open = true }) { Text(state.variant?.label ?: "No models") }
        DropdownMenu(expanded = open, onDismissRequest = { open = false }) {
            for (v in state.variants) {
                DropdownMenuItem(text = { Text(v.label) }, onClick = {
                    open = false
                    viewModel.selectVariant(v)
                })
            }
        }
    }
}

@Composable
private fun LatencyRow(state: SegmentUiState) {
    fun fmt(stage: Stage) = state.latenciesMs[stage]?.let { "%.0f ms".format(it) } ?: "-"
    Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.SpaceBetween) {
        Text("encoder ${fmt(Stage.ENCODER)}")
        Text("decoder ${fmt(Stage.DECODER)}")
        Text("everything ${fmt(Stage.EVERYTHING)}")
    }
    state.maskScore?.let { Text("predicted IoU %.3f".format(it)) }
    state.everythingMasks?.let { Text("$it masks") }
}
